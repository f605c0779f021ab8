"""Supervised feature learning: a classifier over any encoder; its features are the encoder's."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.base import Batch, Learner
from deepfeat.learners.build import LEARNERS
from deepfeat.nn.encoder import build_encoder


@LEARNERS.register("classifier", aliases=("supervised",))
class Classifier(Learner):
    """Encoder + linear head trained with cross-entropy; ``embed`` returns the encoder's features.

    Shapes: ``x (B, *input_shape) -> logits (B, num_classes)``; ``embed(x) -> (B, feature_dim)``.
    """

    capabilities = frozenset({"classifies"})
    figures = ("confusion_matrix",)
    headline = (("test accuracy", "test.test/acc"), ("linear probe accuracy", "evaluations.linear_probe.accuracy"))

    def __init__(
        self,
        info: DataInfo,
        encoder: Any = "mlp",
        label_smoothing: float = 0.0,  # the share of each target spread evenly over all classes (Szegedy et al. 2016)
        head_dropout: float = 0.0,  # the share of the features dropped before the linear head in training
    ) -> None:
        super().__init__()
        if info.num_classes < 2:
            raise ConfigError(
                f"learner 'classifier' at learner.name: expected labelled data with >= 2 classes, got "
                f"{info.num_classes} classes in dataset '{info.name}'. Use a labelled dataset or an unsupervised learner."
            )
        self.num_classes = info.num_classes
        self.label_smoothing = label_smoothing
        self.encoder = build_encoder(encoder, info.input_shape)
        self.head = nn.Sequential(nn.Dropout(head_dropout), nn.Linear(self.encoder.feature_dim, info.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        x, y = batch
        if y is None:
            raise ConfigError("learner 'classifier': the batch has no labels; use a labelled dataset.")
        return self._metrics(self(x).float(), y)

    @torch.no_grad()
    def inference(self, batch: Batch, names: frozenset[str]) -> dict[str, Any]:
        """Features, class probabilities and metrics of one batch from one encoder pass (see ``Learner.inference``)."""
        x, y = batch
        z = self.encoder(x)
        logits = self.head(z).float()
        shared = {"embed": lambda: z, "predict_proba": lambda: logits.softmax(1),
                  "metrics": lambda: self._metrics(logits, y)}
        out = super().inference(batch, names - shared.keys())
        return {**out, **{n: shared[n]() for n in names & shared.keys()}}

    def _metrics(self, logits: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if y is None:
            raise ConfigError("learner 'classifier': the batch has no labels; use a labelled dataset.")
        loss = F.cross_entropy(logits, y, label_smoothing=self.label_smoothing)
        return {"loss": loss, "acc": (logits.argmax(1) == y).float().mean()}

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, num_classes)``."""
        return self(x).float().softmax(1)
