"""A normalizing flow: the exact log-likelihood of a sample, its negative the anomaly score (RealNVP, Dinh,
Sohl-Dickstein & Bengio 2017, "Density estimation using Real NVP", ICLR).

An invertible map ``z = f(x)`` with a tractable Jacobian turns the standard normal ``p(z)`` into a density of the
data, ``log p(x) = log N(f(x); 0, I) + log |det df/dx|``, fitted by maximum likelihood. ``f`` is a learned
per-feature affine map (ActNorm, Kingma & Dhariwal 2018) followed by ``couplings`` affine coupling layers: a fixed
random half of the features (a seeded mask ``m``; the next layer takes the other half) passes unchanged and
conditions a scale and shift of the rest,

    y = m * x + (1 - m) * (x * exp(s(m * x)) + t(m * x)),    log |det| = sum (1 - m) * s(m * x),

``s, t`` from one conditioner network per layer: the config's encoder on the masked sample, then a linear layer,
zero-initialized so the flow starts as the identity; ``s`` is bounded by ``tanh``. Every feature (a table's column,
an image's pixel) is one dimension of the density.

Training adds Gaussian noise of standard deviation ``noise`` (in the data's normalized units) to each batch: a
density of a few hundred rows in tens of dimensions otherwise collapses onto them (and onto constant columns), and
the noise sets the finest scale the density resolves. The score is ``-log p(x)`` of the clean sample in nats: a
sample in a region the normal data leaves empty scores high, also along the normal rows' own directions, where
reconstruction errors see nothing. ``embed`` is ``z = f(x)``, whitened features of the data's own dimension.

The defaults, 8 couplings and noise 0.7, were chosen on a development table (scikit-learn's digits as 64-d vectors,
each digit normal in turn; ``benchmarks/select_table_scores.py --group flow`` and ``flow_noise``): noise 0.5-1.0
scored alike there (mean ROC-AUC 0.983-0.984), 0.1 clearly lower (0.972-0.975). They were not tried on images.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from deepfeat.checks import check_positive_int, check_seed
from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.base import Batch, Learner
from deepfeat.learners.build import LEARNERS
from deepfeat.nn.encoder import build_encoder

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def coupling_masks(dim: int, count: int, seed: int) -> torch.Tensor:
    """``count`` masks ``(count, dim)`` of 0s and 1s: a seeded random half of the ``dim`` features passes layer
    ``2k`` unchanged, and the other half layer ``2k + 1``, so every feature is transformed."""
    generator, masks = torch.Generator().manual_seed(seed), []
    for layer in range(count):
        if layer % 2:
            masks.append(1 - masks[-1])
        else:
            mask = torch.zeros(dim)
            mask[torch.randperm(dim, generator=generator)[: dim // 2]] = 1
            masks.append(mask)
    return torch.stack(masks)


class AffineCoupling(nn.Module):
    """One coupling layer: ``(B, *shape) -> (y (B, *shape), log |det| (B,))`` under the mask ``(*shape)``."""

    def __init__(self, conditioner: nn.Module, mask: torch.Tensor) -> None:
        super().__init__()
        self.conditioner = conditioner
        self.register_buffer("mask", mask)
        self.to_scale_shift = nn.Linear(conditioner.feature_dim, 2 * mask.numel())
        nn.init.zeros_(self.to_scale_shift.weight)  # the identity at the start: log-likelihood of the base
        nn.init.zeros_(self.to_scale_shift.bias)
        self.scale = nn.Parameter(torch.ones(()))  # s = scale * tanh(.): bounded, yet free to grow when it helps

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kept = x * self.mask
        log_s, shift = self.to_scale_shift(self.conditioner(kept)).float().view(len(x), 2, *x.shape[1:]).unbind(1)
        log_s = self.scale * torch.tanh(log_s) * (1 - self.mask)
        y = kept + (1 - self.mask) * (x.float() * torch.exp(log_s) + shift)
        return y, log_s.flatten(1).sum(1)


@LEARNERS.register("flow", aliases=("realnvp", "normalizing_flow"))
class NormalizingFlow(Learner):
    """RealNVP over any continuous data. Shapes: ``x (B, *input_shape) -> z (B, D)``, ``D`` the sample's size;
    ``log_prob``, ``score_samples -> (B,)``. Metrics: ``nll`` (nats per sample), ``bits_per_dim`` (clean batch)."""

    capabilities = frozenset({"scores"})
    evaluations = ("anomaly",)
    figures = ("anomaly_scores", "roc_curve")
    headline = (("anomaly ROC-AUC", "evaluations.anomaly.roc_auc"),
                ("anomaly average precision", "evaluations.anomaly.average_precision"))
    neighbour_metric = "euclidean"  # z lives in the standard normal's Euclidean space

    def __init__(self, info: DataInfo, encoder: Any = "mlp", couplings: int = 8, noise: float = 0.7,
                 seed: int = 0) -> None:
        super().__init__()
        if not info.kind_spec.continuous:
            raise ConfigError("learner 'flow' at learner.name: expected vectors, images or sequences, got token ids "
                              "(a density of integer ids is not continuous). Use learner: seq_autoencoder for text.")
        if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
            raise ConfigError(f"learner 'flow' noise: expected a number >= 0 (the standard deviation of the noise "
                              f"added to training batches, in normalized units), got {noise!r}")
        count = check_positive_int(couplings, "learner 'flow' couplings")
        if count < 2:
            raise ConfigError(f"learner 'flow' couplings: expected at least 2 (one layer transforms half of the "
                              f"features, the next the other half), got {couplings!r}")
        self.shape, self.noise = tuple(info.input_shape), float(noise)
        dim = math.prod(self.shape)
        if dim < 2:
            raise ConfigError(f"learner 'flow': expected samples of at least 2 values to couple, got shape {self.shape}")
        masks = coupling_masks(dim, count, check_seed(seed, "learner 'flow' seed", "the coupling masks"))
        # Each layer its own conditioner, built from the encoder spec (a user's module instance is copied per layer).
        self.couplings = nn.ModuleList(
            AffineCoupling(copy.deepcopy(build_encoder(encoder, self.shape, where="encoder")), mask.view(self.shape))
            for mask in masks)
        self.loc = nn.Parameter(torch.zeros(self.shape))  # ActNorm: a learned per-feature shift and log-scale
        self.log_scale = nn.Parameter(torch.zeros(self.shape))

    @property
    def feature_dim(self) -> int:
        return math.prod(self.shape)

    def forward_flow(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z (B, *input_shape), log |det df/dx| (B,))``."""
        z = (x.float() - self.loc) * torch.exp(self.log_scale)
        log_det = self.log_scale.sum().expand(len(x))
        for layer in self.couplings:
            z, part = layer(z)
            log_det = log_det + part
        return z, log_det

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x)`` in nats per sample ``(B,)``, of the data in its normalized units."""
        z, log_det = self.forward_flow(x)
        return -0.5 * z.flatten(1).pow(2).sum(1) - self.feature_dim * _HALF_LOG_2PI + log_det

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``z = f(x)``: ``(B, D)``, standard normal for data like the training data."""
        return self.forward_flow(x)[0].flatten(1)

    def _metrics(self, nll: torch.Tensor) -> dict[str, torch.Tensor]:
        """The loss of per-sample negative log-likelihoods ``(B,)`` and its metrics (nats, bits per dimension)."""
        loss = nll.mean()
        return {"loss": loss, "nll": loss.detach(), "bits_per_dim": loss.detach() / (self.feature_dim * math.log(2))}

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        x = batch[0].float()
        return self._metrics(-self.log_prob(x + self.noise * torch.randn_like(x) if self.noise else x))

    @torch.no_grad()
    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Metrics of the clean batch (no training noise)."""
        return self._metrics(-self.log_prob(batch[0]))

    @torch.no_grad()
    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score ``(B,)``: ``-log p(x)`` in nats (higher = less likely under the normal data's density)."""
        return -self.log_prob(x)
