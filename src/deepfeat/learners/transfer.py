"""Transfer learning: a pretrained encoder, a new head, and how much of the encoder to adapt.

Modes (Yosinski et al. 2014; Kornblith et al. 2019, "Do better ImageNet models transfer better?"):
``linear_probe`` trains the new head on frozen features; ``fine_tune`` trains everything;
``partial`` trains the last ``trainable_blocks`` encoder blocks; ``gradual`` starts like
``partial`` and unfreezes one more block every ``unfreeze_every`` epochs, top down (ULMFiT, Howard
& Ruder 2018). Discriminative learning rates come from ``optimizer.layer_decay`` over
:meth:`TransferLearner.lr_blocks`. Batch-norm policy ``bn: freeze`` keeps the batch-norm layers of
frozen blocks in eval mode (their statistics stay the pretrained ones, as in torchvision's
``FrozenBatchNorm2d``); ``bn: train`` lets them adapt to the new data (AdaBN, Li et al. 2016).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.base import Batch, Learner
from deepfeat.learners.build import LEARNERS
from deepfeat.nn.backbones import module_blocks
from deepfeat.nn.encoder import build_encoder
from deepfeat.nn.heads import LinearHead

Mode = Literal["linear_probe", "fine_tune", "partial", "gradual"]


@LEARNERS.register("transfer", aliases=("finetune", "fine_tune"))
class TransferLearner(Learner):
    """Encoder (usually ``{name: backbone, source: ...}``) + a new linear head for ``info.num_classes``.

    Shapes: ``x (B, *input_shape) -> logits (B, num_classes)``; ``embed(x) -> (B, feature_dim)``.
    Its run adds the low-label comparison (scratch / linear probe / fine-tune at 1, 5, 10, ... labels per
    class) when the config has ``evaluation.settings.low_label`` (e.g. ``{labels_per_class: [1, 5, 10, all]}``).
    """

    capabilities = frozenset({"classifies"})
    evaluations = ("low_label",)
    figures = ("confusion_matrix", "low_label")
    headline = (("test accuracy", "test.test/acc"), ("linear probe accuracy", "evaluations.linear_probe.accuracy"))

    def __init__(
        self,
        info: DataInfo,
        encoder: Any = "cnn",
        mode: Mode = "fine_tune",
        trainable_blocks: int = 1,
        unfreeze_every: int = 1,
        bn: Literal["freeze", "train"] = "freeze",
        head_dropout: float = 0.0,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        if info.num_classes < 2:
            raise ConfigError(f"learner 'transfer' at learner.name: expected labelled data with >= 2 classes, got "
                              f"{info.num_classes} in dataset '{info.name}'. Use a labelled dataset.")
        if trainable_blocks < 0 or unfreeze_every < 1:
            raise ConfigError(f"learner 'transfer': expected trainable_blocks >= 0 and unfreeze_every >= 1, got "
                              f"{trainable_blocks} and {unfreeze_every}")
        self.mode, self.bn, self.unfreeze_every = mode, bn, unfreeze_every
        self.label_smoothing = label_smoothing
        self.encoder = build_encoder(encoder, info.input_shape)
        # A batch norm without affine parameters standardizes the features the new head sees: a linear
        # probe on raw pretrained features trains far slower without it (He et al. 2022, MAE, appendix A.2).
        dim = self.encoder.feature_dim
        self.head = nn.Sequential(nn.BatchNorm1d(dim, affine=False), nn.Dropout(head_dropout), LinearHead(dim, info.num_classes))
        lr_blocks = getattr(self.encoder, "lr_blocks", None)
        self.blocks = lr_blocks() if callable(lr_blocks) else module_blocks(self.encoder)
        self.initial_blocks = {"linear_probe": 0, "fine_tune": len(self.blocks)}.get(mode, trainable_blocks)
        self.set_trainable(self.initial_blocks)

    # -- freezing --------------------------------------------------------------------------------
    def set_trainable(self, top: int) -> None:
        """Train the last ``top`` encoder blocks (and the head); freeze the others, with their norms."""
        self.trainable_top = max(0, min(int(top), len(self.blocks)))
        first = len(self.blocks) - self.trainable_top
        for i, (_, block) in enumerate(self.blocks):
            block.requires_grad_(i >= first)
        self.train(self.training)

    def frozen_blocks(self) -> list[tuple[str, nn.Module]]:
        """The encoder blocks that are frozen now, input to output."""
        return self.blocks[: len(self.blocks) - self.trainable_top]

    def train(self, mode: bool = True) -> TransferLearner:
        """Like ``nn.Module.train``, but frozen blocks stay in eval mode under ``bn: freeze``."""
        super().train(mode)
        if mode and self.bn == "freeze":
            for _, block in self.frozen_blocks():
                block.eval()
        return self

    def lr_blocks(self) -> list[tuple[str, nn.Module]]:
        """Encoder blocks input to output, then the head: the groups of ``optimizer.layer_decay``."""
        return [(f"encoder.{name}", block) for name, block in self.blocks] + [("head", self.head)]

    def configure_optimizers(self, spec: Any) -> list[torch.optim.Optimizer]:
        """One optimizer over every parameter that trains now or, in ``gradual`` mode, later.

        Frozen parameters get no gradient, so the optimizer leaves them (and their decay) alone
        until they are unfrozen.
        """
        from deepfeat.optim.optimizers import build_optimizer

        now = self.trainable_top
        self.set_trainable(len(self.blocks) if self.mode == "gradual" else now)
        try:
            return [build_optimizer(spec, self)]
        finally:
            self.set_trainable(now)

    # -- the learner contract ----------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        x, y = batch
        if y is None:
            raise ConfigError("learner 'transfer': the batch has no labels; use a labelled dataset.")
        logits = self(x).float()
        loss = F.cross_entropy(logits, y, label_smoothing=self.label_smoothing)
        return {"loss": loss, "acc": (logits.argmax(1) == y).float().mean()}

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, num_classes)``."""
        return self(x).float().softmax(1)

    # -- what changes training between steps (called by the trainer) -------------------------------
    def on_epoch_start(self, epoch: int) -> str | None:
        """``gradual`` mode: train ``initial + epoch // unfreeze_every`` top blocks (Howard & Ruder 2018)."""
        if self.mode != "gradual":
            return None
        before = self.trainable_top
        self.set_trainable(self.initial_blocks + epoch // self.unfreeze_every)
        if self.trainable_top == before:
            return None
        return f"epoch {epoch + 1}: {self.trainable_top} of {len(self.blocks)} encoder blocks trainable"

    def on_fit_end(self, batches: Any, prepare: Any, autocast: Any) -> None:
        """After fine-tuning (best weights restored): the head's batch-norm statistics of the final features."""
        if self.mode != "linear_probe":
            self.recalibrate_head_norm(batches, prepare, autocast)

    @torch.no_grad()
    def recalibrate_head_norm(self, batches: Any, prepare: Any, autocast: Any) -> None:
        """Recompute the head's feature statistics with the final encoder over ``batches`` (precise BN).

        The running mean/variance of the head's batch norm trail the features by ~1/momentum steps;
        when fine-tuning moves the features, a short run ends with stale statistics and a shifted
        decision threshold (Wu & Johnson 2021, "Rethinking 'Batch' in BatchNorm", section 3).
        """
        norm, was_training = self.head[0], self.training
        self.eval()
        norm.reset_running_stats()
        momentum, norm.momentum = norm.momentum, None  # a cumulative average: every batch counts equally
        norm.train()
        try:
            for x, _ in batches:
                if len(x) > 1:  # batch norm cannot take statistics of one sample
                    with autocast():
                        norm(self.encoder(prepare(x)).float())
        finally:
            norm.momentum = momentum
            self.train(was_training)
