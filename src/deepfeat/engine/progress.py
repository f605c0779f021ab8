"""What a person sees while training: a progress bar on a terminal, one line per epoch otherwise.

Both show the throughput in samples/s and an ETA for the whole run (the epochs left, validation included).
"""

from __future__ import annotations

import statistics
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, TextIO

import torch
from tqdm.auto import tqdm

from deepfeat.engine.callbacks import Callback

if TYPE_CHECKING:
    from deepfeat.engine.trainer import Trainer

MODES = ("auto", "bar", "line", "none")


def format_logs(logs: dict[str, float]) -> str:
    """``train/loss 0.1234  val/acc 0.9812  lr 1.0e-03`` (bookkeeping columns left out)."""
    parts = []
    for key, value in logs.items():
        if key in ("epoch", "step", "time_s", "data_wait"):
            continue
        parts.append(f"{key} {value:.2e}" if key == "lr" else f"{key} {value:.4f}")
    return "  ".join(parts)


def clock(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``."""
    minutes, s = divmod(round(seconds), 60)
    h, m = divmod(minutes, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def banner(trainer: "Trainer") -> str:
    """What runs, in two lines: where and how it computes, then the model and the data; a third says how auto
    epochs / batch size were picked.

    ``training on cpu (2 threads) · precision bf16 autocast · channels_last on``
    ``75,978 parameters (75,978 trainable) · 1,437 train / 180 val / 180 test samples of (64,) · 250 epochs x 12 steps
    of 128 · data in the training process``
    ``training.epochs auto: 250 (about 3,000 steps of batch 128 (auto) on 1,437 samples)``
    """
    p, cfg, data = trainer.precision, trainer.cfg, trainer.data
    where = f"cuda:{p.device.index or 0} ({torch.cuda.get_device_name(p.device)})" if p.device.type == "cuda" else \
        f"{p.device.type} ({torch.get_num_threads()} threads)"
    world = trainer.dist.world_size if trainer.dist.enabled else 1
    procs = f" x {world} processes" if world > 1 else ""
    precision = "float32" if p.dtype is None else f"{p.name} autocast"
    params = sum(q.numel() for q in trainer.learner.parameters())
    trainable = sum(q.numel() for q in trainer.learner.parameters() if q.requires_grad)
    sizes = " / ".join(f"{len(split):,} {name}" for name, split in data.splits().items())
    workers = data.train.num_workers
    loading = f"data loaded by {workers} worker{'s' if workers > 1 else ''}" if workers else "data in the training process"
    resumed = f" · resuming after epoch {len(trainer.history)}" if trainer.history else ""
    auto = f"\n{trainer.schedule.message}" if trainer.schedule.message else ""
    return (f"training on {where}{procs} · precision {precision} · channels_last {'on' if p.channels_last else 'off'}\n"
            f"{params:,} parameters ({trainable:,} trainable) · {sizes} samples of {tuple(data.info.input_shape)} · "
            f"{trainer.planned_epochs} epochs x {trainer.steps_per_epoch} steps of {cfg.batch_size} · {loading}"
            f"{resumed}{auto}")


class _Bar(tqdm):  # type: ignore[misc]
    """A tqdm bar whose text (loss, samples/s, run ETA) is computed only when tqdm redraws.

    Each step just hands over the latest loss tensor; reading it (a GPU sync) happens at most once per
    redraw, which tqdm rate-limits to ``mininterval``, so the step never waits on the terminal.
    """

    loss: torch.Tensor | None = None
    progress: "Progress | None" = None

    @property
    def format_dict(self) -> dict[str, Any]:
        d = super().format_dict
        # tqdm's smoothed rate, or (before its first redraw) the mean rate so far, as tqdm itself falls back to
        rate = d.get("rate") or (d["n"] / d["elapsed"] if d.get("elapsed") and d["n"] else None)
        parts = [f"{rate:,.0f} samples/s"] if rate else []
        if self.loss is not None:
            parts.append(f"loss {float(self.loss):.4f}")
        if self.progress is not None and rate:
            parts.append(f"ETA {clock(self.progress.eta(d['n'], rate))}")
        d["info"] = ", ".join(parts) or "..."
        return d


class Progress(Callback):
    """A tqdm bar per epoch when ``stream`` is a terminal (mode "auto"/"bar"), else one line per epoch.

    Output that is not a terminal never gets carriage-return bars, so logs and CI stay readable.
    """

    main_process_only = True
    BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{info}]"

    def __init__(self, mode: str = "auto", stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        is_tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.mode = ("bar" if is_tty else "line") if mode == "auto" else mode
        self.bar: Any = None
        self.epochs_left = 0  # after the current one
        self.samples = self.step_samples = 0  # per epoch, per step (every process together)
        self.epoch_s: list[float] = []  # wall time of each finished epoch of this fit, validation included
        self.extra_s: list[float] = []  # of which after the last step (validation, checkpoints)
        self.t_start = self.t_step = 0.0

    def on_fit_start(self, trainer: "Trainer") -> None:
        if self.mode != "none":
            print(banner(trainer), file=self.stream, flush=True)

    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None:
        if self.mode == "none":
            return
        world = trainer.dist.world_size
        self.step_samples = trainer.cfg.batch_size * world
        self.samples = min(trainer.steps_per_epoch * self.step_samples, len(trainer.data.train))
        self.epochs_left = trainer.planned_epochs - epoch - 1
        self.t_start = self.t_step = time.perf_counter()
        if self.mode == "bar":
            self.bar = _Bar(total=self.samples, desc=f"epoch {epoch + 1}/{trainer.planned_epochs}", file=self.stream,
                            leave=False, dynamic_ncols=True, bar_format=self.BAR_FORMAT)
            self.bar.progress = self

    def on_step_end(self, trainer: "Trainer", metrics: dict[str, torch.Tensor]) -> None:
        if self.mode == "none":
            return
        self.t_step = time.perf_counter()
        if self.bar is not None:
            self.bar.loss = metrics.get("loss")
            self.bar.update(min(self.step_samples, self.samples - self.bar.n))

    def eta(self, done: int, rate: float) -> float:
        """Seconds left in the run: this epoch's samples at ``rate``, its validation, then the epochs left."""
        extra = statistics.mean(self.extra_s[-3:]) if self.extra_s else 0.0
        epoch = statistics.mean(self.epoch_s[-3:]) if self.epoch_s else self.samples / rate + extra
        return max(self.samples - done, 0) / rate + extra + self.epochs_left * epoch

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.mode == "none":
            return
        now = time.perf_counter()
        self.epoch_s.append(now - self.t_start)
        self.extra_s.append(now - self.t_step)
        train_s = max(self.t_step - self.t_start, 1e-9)
        speed = f"{self.samples / train_s:,.0f} samples/s"
        eta = f", ETA {clock(self.epochs_left * statistics.mean(self.epoch_s[-3:]))}" if self.epochs_left else ""
        line = f"epoch {epoch + 1}/{trainer.planned_epochs}  {format_logs(logs)}  ({logs.get('time_s', 0):.1f}s, {speed}{eta})"
        print(line, file=self.stream, flush=True)


class Phases:
    """One line per phase of the work after training (export, each evaluation, each figure, the report) with its
    time, so the seconds after the last epoch are never silent. On a terminal the phase's name shows while it runs.

        with phases("evaluation reconstruction"):
            ...
    """

    def __init__(self, mode: str = "auto", stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        is_tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.mode = ("bar" if is_tty else "line") if mode == "auto" else mode
        self.started = False

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self.mode == "none":
            yield
            return
        if not self.started:
            self.started = True
            print("after training:", file=self.stream, flush=True)
        if self.mode == "bar":
            print(f"  {name} ...", end="", file=self.stream, flush=True)
        t0 = time.perf_counter()
        try:
            yield
        except BaseException:
            self._end(name, "failed")
            raise
        self._end(name, f"{time.perf_counter() - t0:.1f}s")

    def _end(self, name: str, outcome: str) -> None:
        start = "\r\033[K" if self.mode == "bar" else ""
        print(f"{start}  {name:<40} {outcome}", file=self.stream, flush=True)


# A Phases that says nothing (library calls without a run's progress setting).
no_phases = Phases("none")
