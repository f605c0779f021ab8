"""Callbacks observe training (log, checkpoint, stop early); they never change the math.

Events, in order: ``on_fit_start``, then per epoch ``on_epoch_start``, ``on_step_end`` (every
step), ``on_eval_end`` (after validation), ``on_epoch_end``; finally ``on_fit_end``.
A callback with state to keep across a resume implements ``state_dict`` / ``load_state_dict``.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from deepfeat.atomic import file_sha256
from deepfeat.engine.checkpoint import all_finite, load_checkpoint, save_checkpoint, write_verified

LAST, BEST = "last.pt", "best.pt"

if TYPE_CHECKING:
    from deepfeat.engine.trainer import Trainer


class Callback:
    """Base of all callbacks: every event is a no-op by default.

    ``main_process_only`` callbacks (those that write files or print) run on rank 0 alone when
    training on several processes; the others run on every rank.
    """

    main_process_only = False

    def on_fit_start(self, trainer: "Trainer") -> None: ...
    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None: ...
    def on_step_end(self, trainer: "Trainer", metrics: dict[str, torch.Tensor]) -> None: ...
    def on_eval_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None: ...
    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, float]) -> None: ...
    def on_fit_end(self, trainer: "Trainer") -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def last_checkpoint(self) -> Path | None:
        """The last checkpoint this callback wrote in the current fit (None: none, or not a checkpoint writer).

        The trainer asks its callbacks for it (a failure names the last good checkpoint): callbacks only observe.
        """
        return None


def is_better(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Whether ``value`` improves on ``best`` by more than ``min_delta`` ("min" or "max" mode)."""
    if best is None or math.isnan(best):
        return not math.isnan(value)
    return value < best - min_delta if mode == "min" else value > best + min_delta


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs (asks the trainer to stop).

    ``monitor=None`` follows the trainer's ``training.monitor`` as the validation policy resolved it
    (``trainer.plan``: ``train/...`` when there is no validation split).
    """

    def __init__(self, monitor: str | None = "val/loss", patience: int = 5, mode: str = "min", min_delta: float = 0.0) -> None:
        self.monitor, self.patience, self.mode, self.min_delta = monitor, patience, mode, min_delta
        self.best: float | None = None
        self.wait = 0

    def on_fit_start(self, trainer: "Trainer") -> None:
        self.monitor = self.monitor or trainer.plan.monitor

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, float]) -> None:
        value = logs.get(self.monitor or "")
        if value is None:
            return
        if is_better(value, self.best, self.mode, self.min_delta):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop(f"early stopping: {self.monitor} has not improved for {self.patience} epochs (best {self.best:.4g})")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.wait = state["best"], state["wait"]


class ModelCheckpoint(Callback):
    """Write ``last.pt`` every ``every`` epochs (and every ``steps`` steps within an epoch, so a resume goes on at
    the batch where a long epoch stopped) and ``best.pt`` when the trainer's monitor improves (only under
    ``restore_best``, which the validation policy turns off when there is no validation split).

    ``best.pt`` is written before ``last.pt`` of the same epoch, and every ``last.pt`` names the best checkpoint
    it goes with (``best_checkpoint``: its epoch and sha256). A kill between or during the two writes then
    leaves a ``last.pt`` whose record points either at the ``best.pt`` on disk or at one the resumed run
    writes again; a resume never pairs a new best epoch with older weights (see :func:`best_weights`).
    """

    main_process_only = True

    def __init__(self, directory: Path, every: int = 1, steps: int | None = None) -> None:
        self.directory = Path(directory)
        self.every, self.steps = every, steps
        self.best_record: dict[str, Any] | None = None
        self.last: Path | None = None

    def on_fit_start(self, trainer: "Trainer") -> None:
        self.last = None  # a fit names only the checkpoints it wrote itself

    def on_step_end(self, trainer: "Trainer", metrics: dict[str, torch.Tensor]) -> None:
        done = trainer.epoch_step
        if self.steps and done % self.steps == 0 and done < trainer.steps_per_epoch and all_finite(trainer.learner):
            save_checkpoint(self.directory / LAST, {**trainer.checkpoint_state(), "best_checkpoint": self.best_record})
            self.last = self.directory / LAST

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, float]) -> None:
        if not all_finite(trainer.learner):
            trainer.log(f"epoch {epoch + 1}: weights are not finite; checkpoint not written")
            return
        if trainer.improved and trainer.plan.restore_best:  # a best epoch the run will not keep is not worth a write
            digest = save_checkpoint(self.directory / BEST, trainer.checkpoint_state())
            self.best_record = {"epoch": epoch + 1, "sha256": digest}
        if (epoch + 1) % self.every == 0 or trainer.should_stop or epoch + 1 == trainer.planned_epochs:
            save_checkpoint(self.directory / LAST, {**trainer.checkpoint_state(), "best_checkpoint": self.best_record})
            self.last = self.directory / LAST

    def last_checkpoint(self) -> Path | None:
        return self.last

    def state_dict(self) -> dict[str, Any]:
        return {"best_record": self.best_record}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_record = state.get("best_record")


def best_weights(state: dict[str, Any], directory: Path) -> dict[str, torch.Tensor] | None:
    """The best epoch's model weights for a resume from ``state`` (a loaded ``last.pt``), or None when they
    cannot be had: no best epoch yet, or ``best.pt`` is not the file ``state`` names.

    ``best.pt`` counts only when its sha256 is the one recorded in ``state`` (checkpoints older than that
    record: when its own epoch is the best epoch). A ``best.pt`` newer than ``state`` (killed between the
    two writes) is left for the resumed run to write again; the trainer refuses to finish on a best epoch
    whose weights it lacks instead of keeping others.
    """
    best_epoch = (state.get("best") or {}).get("epoch")
    if best_epoch is None:
        return None
    if best_epoch == state["epoch"] and not state.get("epoch_step"):  # mid-epoch weights are not that epoch's
        return {k: v.clone() for k, v in state["model"].items()}
    path = Path(directory) / BEST
    if not path.is_file():
        return None
    record = state.get("best_checkpoint")
    if record is not None and (record.get("epoch") != best_epoch or record.get("sha256") != file_sha256(path)):
        return None
    best = load_checkpoint(path)
    return best["model"] if best.get("epoch") == best_epoch else None


class CSVLogger(Callback):
    """Rewrite ``metrics.csv`` (one row per epoch, every metric a column) atomically each epoch."""

    main_process_only = True

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, float]) -> None:
        write_metrics_csv(self.path, trainer.history)


def write_metrics_csv(path: Path, rows: list[dict[str, float]]) -> None:
    """Write rows with the union of their keys as columns (epoch, step, time_s, data_wait, lr first: the clock
    columns side by side, before the metrics; a row without one, from a run older than the column, leaves it empty)."""
    first = ["epoch", "step", "time_s", "data_wait", "lr"]
    keys = first + sorted({k for r in rows for k in r} - set(first))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, restval="")
    writer.writeheader()
    writer.writerows(rows)
    write_verified(Path(path), lambda tmp: Path(tmp).write_text(buf.getvalue()))
