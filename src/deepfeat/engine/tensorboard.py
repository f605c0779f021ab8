"""TensorBoard logging (optional extra ``deepfeat[tensorboard]``): scalars per epoch, features at the end."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from deepfeat.data.kinds import IMAGE_GRID
from deepfeat.engine.callbacks import Callback
from deepfeat.extras import load

if TYPE_CHECKING:
    from deepfeat.engine.trainer import Trainer


class TensorBoardLogger(Callback):
    """Write every epoch metric as a scalar, a grid of input images, and validation features to the projector."""

    main_process_only = True

    def __init__(self, log_dir: Path, max_embed: int = 1000) -> None:
        board = load("torch.utils.tensorboard", "tensorboard", "logging.tensorboard",
                     ", or set logging.tensorboard: false")
        self.writer = board.SummaryWriter(str(log_dir))
        self.max_embed = max_embed

    def on_fit_start(self, trainer: "Trainer") -> None:
        if trainer.data.info.kind_spec.view == IMAGE_GRID:
            x, _ = next(trainer.data.train.batches(16))
            lo, hi = x.amin(dim=(1, 2, 3), keepdim=True), x.amax(dim=(1, 2, 3), keepdim=True)
            self.writer.add_images("inputs", (x - lo) / (hi - lo).clamp_min(1e-8), 0)

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            if key not in ("epoch", "step"):
                self.writer.add_scalar(key, value, epoch + 1)
        self.writer.flush()

    def on_fit_end(self, trainer: "Trainer") -> None:
        split = trainer.data.val or trainer.data.test
        if split is not None:
            from deepfeat.engine.inference import collect

            z, y = collect(trainer.learner, split, trainer.precision, trainer.learner.embed, limit=self.max_embed)
            self.writer.add_embedding(z, metadata=None if y is None else y.tolist(), global_step=trainer.global_step)
        self.writer.close()
