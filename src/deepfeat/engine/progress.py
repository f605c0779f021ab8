"""What a person sees while training: a progress bar on a terminal, one line per epoch otherwise."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

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
        if key in ("epoch", "step", "time_s"):
            continue
        parts.append(f"{key} {value:.2e}" if key == "lr" else f"{key} {value:.4f}")
    return "  ".join(parts)


class Progress(Callback):
    """A tqdm bar per epoch when ``stream`` is a terminal (mode "auto"/"bar"), else one line per epoch.

    Output that is not a terminal never gets carriage-return bars, so logs and CI stay readable.
    """

    main_process_only = True

    def __init__(self, mode: str = "auto", stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        is_tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.mode = ("bar" if is_tty else "line") if mode == "auto" else mode
        self.bar: Any = None

    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None:
        if self.mode == "bar":
            self.bar = tqdm(total=trainer.steps_per_epoch, desc=f"epoch {epoch + 1}/{trainer.cfg.epochs}",
                            file=self.stream, leave=False, dynamic_ncols=True)

    def on_step_end(self, trainer: "Trainer", metrics: dict[str, torch.Tensor]) -> None:
        if self.bar is not None:
            self.bar.update(1)
            # Reading the loss syncs a GPU; tqdm already rate-limits redraws, so only read on redraw.
            if self.bar.n % 20 == 0 and "loss" in metrics:
                self.bar.set_postfix(loss=f"{float(metrics['loss']):.4f}", refresh=False)

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.mode != "none":
            line = f"epoch {epoch + 1}/{trainer.cfg.epochs}  {format_logs(logs)}  ({logs.get('time_s', 0):.1f}s)"
            print(line, file=self.stream, flush=True)
