"""Deep SVDD: one-class learning by mapping normal data close to a fixed center (Ruff et al. 2018).

``x (B, *input_shape) -> encoder -> Linear (no bias) -> phi(x) (B, rep_dim)``; the loss is the mean
squared distance ``||phi(x) - c||^2`` to a center ``c`` fixed before training as the mean of the
initial network's outputs on the training data (the "One-Class Deep SVDD" objective, eq. 4 of
Ruff et al. 2018, "Deep One-Class Classification", ICML), with weight decay from the optimizer.
The anomaly score of a sample is its squared distance to ``c``.

Two trivial solutions are ruled out as in the paper (section 3.3): the network has no bias terms
(every bias and every norm shift is fixed at 0, norm scales at 1: a bias could map every input to
``c`` exactly), and center coordinates too close to 0 are pushed to ``+-eps`` (a center of 0 is
reachable by the all-zero weights). Train it on the normal classes only (``data.normal_classes``).

With ``pretrain_epochs > 0`` the network is first trained as the encoder of an autoencoder (section 4.1 of
the paper): a bias-free decoder mirroring the encoder (:func:`~deepfeat.nn.decoders.build_decoder`) maps
``phi(x)`` back to ``x``, trained with the mean squared error for ``pretrain_epochs`` shuffled epochs (Adam,
``pretrain_lr``, weight decay 0.5e-6); the center is then the mean of the pretrained network's outputs. The
decoder exists only during pretraining: it is not part of the learner, its state dict or an exported model.
``pretrain_lr`` defaults to 1e-3, not the paper's 1e-4 (with its 250 epochs): on one-class MNIST's normal
validation images 1e-3 reconstructed better after 10, 30 and 100 epochs
(``benchmarks/select_svdd_pretraining.py``).
"""

from __future__ import annotations

from typing import Any, Callable, ContextManager

import torch
from torch import nn

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.ae_pretraining import pretrain_autoencoder
from deepfeat.learners.base import Batch, Learner
from deepfeat.learners.build import LEARNERS
from deepfeat.nn.decoders import build_decoder
from deepfeat.checks import check_positive_int
from deepfeat.nn.encoder import build_encoder

NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def remove_biases(module: nn.Module) -> nn.Module:
    """Fix every bias (and norm shift) of ``module`` at 0 and every norm scale at 1, untrainable.

    Batch-norm layers keep standardizing with their running statistics: that is a fixed affine map
    per unit, not a learnable offset, as in the paper's LeNet-type networks (``affine=False``).
    """
    for m in module.modules():
        for name, p in list(m.named_parameters(recurse=False)):
            fixed = name == "bias" or (isinstance(m, NORMS) and name == "weight")
            if fixed:
                with torch.no_grad():
                    p.fill_(1.0 if name == "weight" else 0.0)
                p.requires_grad_(False)
    return module


@LEARNERS.register("deep_svdd", aliases=("svdd", "one_class_svdd"))
class DeepSVDD(Learner):
    """One-Class Deep SVDD. Shapes: ``x (B, *input_shape) -> phi (B, rep_dim)``; ``score_samples -> (B,)``."""

    capabilities = frozenset({"scores"})
    evaluations = ("anomaly",)
    figures = ("anomaly_scores", "roc_curve")
    headline = (("anomaly ROC-AUC", "evaluations.anomaly.roc_auc"),
                ("anomaly average precision", "evaluations.anomaly.average_precision"))

    def __init__(self, info: DataInfo, encoder: Any = "mlp", rep_dim: int = 32, eps: float = 0.1,
                 pretrain_epochs: int = 0, pretrain_lr: float = 1e-3) -> None:
        super().__init__()
        if not info.kind_spec.continuous:
            raise ConfigError("learner 'deep_svdd' at learner.name: expected vectors, images or sequences, got token "
                              "ids. Use learner: seq_autoencoder for text.")
        if not eps > 0:
            raise ConfigError(f"learner 'deep_svdd' eps: expected a number > 0, got {eps!r}. The paper uses 0.1.")
        if isinstance(pretrain_epochs, bool) or not isinstance(pretrain_epochs, int) or pretrain_epochs < 0:
            raise ConfigError(f"learner 'deep_svdd' pretrain_epochs: expected an integer >= 0 (0: no autoencoder "
                              f"pretraining), got {pretrain_epochs!r}")
        if isinstance(pretrain_lr, bool) or not isinstance(pretrain_lr, (int, float)) or not pretrain_lr > 0:
            raise ConfigError(f"learner 'deep_svdd' pretrain_lr: expected a number > 0, got {pretrain_lr!r}. "
                              "The paper uses 1e-4.")
        self.rep_dim, self.eps = check_positive_int(rep_dim, "learner 'deep_svdd' rep_dim"), eps
        self.pretrain_epochs, self.pretrain_lr = pretrain_epochs, float(pretrain_lr)
        self.encoder = remove_biases(build_encoder(encoder, info.input_shape))
        self.project = nn.Linear(self.encoder.feature_dim, self.rep_dim, bias=False)
        self.register_buffer("center", torch.zeros(self.rep_dim))
        self.register_buffer("center_set", torch.tensor(False))

    @property
    def feature_dim(self) -> int:
        return self.rep_dim

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``phi(x)``: ``(B, rep_dim)``, the space in which normal data gathers around the center."""
        return self.project(self.encoder(x))

    def distances(self, x: torch.Tensor) -> torch.Tensor:
        """Squared distance to the center ``(B,)``."""
        return (self.embed(x).float() - self.center).pow(2).sum(1)

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        loss = self.distances(batch[0]).mean()
        return {"loss": loss}

    @torch.no_grad()
    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score ``(B,)``: squared distance to the center (higher = more anomalous)."""
        return self.distances(x)

    def mirror_decoder(self) -> nn.Module:
        """A new bias-free decoder ``(B, rep_dim) -> (B, *input_shape)`` mirroring the encoder (for pretraining)."""
        return remove_biases(build_decoder(self.encoder, self.rep_dim))

    def on_fit_start(self, batches: Any, prepare: Callable[[torch.Tensor], torch.Tensor],
                     autocast: Callable[[], ContextManager[Any]]) -> None:
        """Once per run (a resumed run keeps its state): the autoencoder pretraining if asked, then the center.

        ``batches``: iterable for unshuffled epochs, ``batches.shuffled(epoch)`` for pretraining's shuffled ones.
        """
        if bool(self.center_set):
            return
        if self.pretrain_epochs:
            pretrain_autoencoder(self, self.embed, self.mirror_decoder(), batches, prepare, autocast,
                                 self.pretrain_epochs, self.pretrain_lr, name="deep_svdd")
        self._set_center(batches, prepare, autocast)

    @torch.no_grad()
    def _set_center(self, batches: Any, prepare: Callable[[torch.Tensor], torch.Tensor],
                    autocast: Callable[[], ContextManager[Any]]) -> None:
        """The center: the mean output over the training data, coordinates near 0 pushed to ``+-eps``."""
        was_training, total, count = self.training, torch.zeros_like(self.center), 0
        self.eval()
        for x, _ in batches:
            with autocast():
                total += self.embed(prepare(x)).float().sum(0)
            count += len(x)
        self.train(was_training)
        center = total / max(count, 1)
        # Coordinates near 0 move to +-eps: a zero center is trivially reached by zero weights.
        near = center.abs() < self.eps
        center[near] = torch.where(center[near] < 0, -self.eps, self.eps)
        self.center.copy_(center)
        self.center_set.fill_(True)
