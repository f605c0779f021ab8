"""GOAD's table mode of transformation prediction (Bergman & Hoshen 2020, "Classification-Based Anomaly Detection
for General Data", ICLR).

Rows have no flips or rotations that keep their meaning, so GOAD draws ``M`` fixed random affine maps
``T_m(x) = W_m x + b_m`` (its transformations for general data) and trains one network ``f`` on all transformed
copies. Instead of a softmax head, a transformation is recognized by the nearest
*centre*: ``c_m``, the mean feature of the copies made by ``T_m``, and

    P(m' | T_m x) = softmax_m'(-||f(T_m x) - c_m'||^2)

Training uses the centres of the batch (as GOAD's code does) and either the cross-entropy of that distance softmax
or GOAD's centre triplet loss (He et al. 2018): ``max(0, d_m + margin - min_{m' != m} d_m')`` with
``d_m' = ||f(T_m x) - c_m'||^2``. After training, the centres are fixed once over the normal training rows (through
the learner's ``on_fit_end`` hook, like the kNN scores' feature bank) and saved with the weights. The anomaly score
is ``-sum_m log P~(m | T_m x)``, with GOAD's regularized probability ``P~ = (P + eps) / (1 + M eps)`` (``eps`` 0:
the plain one). The biases matter: with linear maps every copy of a row near the centre is near 0, so the most
typical rows are the hardest to recognize and rows far out along the normal rows' own directions the easiest, and
such anomalies score as normal (a toy table of that shape: ROC-AUC 0.17 without biases, 0.85-0.91 with them).
"""

from __future__ import annotations

from typing import Any, Callable, ContextManager

import torch
import torch.nn.functional as F
from torch import nn

from deepfeat.errors import ConfigError, TrainingError

Features = Callable[[torch.Tensor], torch.Tensor]  # rows (B, D) -> features of their M copies (M, B, F)


def random_affine_maps(count: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` seeded random affine maps of ``dim``-d rows: weights ``(M, D, D)`` with entries ~ N(0, 1/D) (GOAD's
    Gaussian matrices, scaled so a standardized row keeps its expected norm) and biases ``(M, D)`` ~ N(0, 1)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(count, dim, dim, generator=g) / dim ** 0.5, torch.randn(count, dim, generator=g)


def centre_distances(z: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Squared distances ``(M, B, M)`` of the features ``z (M, B, F)`` of each copy to every centre ``(M, F)``."""
    cross = torch.einsum("mbf,kf->mbk", z, centres)
    return ((z * z).sum(-1, keepdim=True) - 2 * cross + (centres * centres).sum(-1)).clamp_min(0)


def own(d: torch.Tensor) -> torch.Tensor:
    """Entry ``[m, i, m]`` of ``d (M, B, M)``: the value of each copy for its own transformation, ``(M, B)``."""
    return torch.diagonal(d, dim1=0, dim2=2).T


def distance_log_probs(d: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """``log P~(m' | T_m x)`` ``(M, B, M)`` from squared distances ``d (M, B, M)``: the distance softmax,
    regularized by ``eps`` (GOAD: ``(P + eps) / (1 + M eps)``, so one unrecognized copy cannot dominate the sum)."""
    log_p = F.log_softmax(-d, dim=-1)
    if eps == 0:
        return log_p
    return torch.log(log_p.exp() + eps) - torch.log1p(torch.tensor(d.shape[-1] * eps))


def goad_loss(z: torch.Tensor, margin: float | None) -> dict[str, torch.Tensor]:
    """Training loss of the copies' features ``z (M, B, F)`` against the batch's centres: the distance softmax's
    cross-entropy (``margin`` None) or the centre triplet loss with that margin; ``acc``: nearest centre right."""
    d = centre_distances(z, z.mean(1))
    right = own(d)
    if margin is None:
        loss = -own(F.log_softmax(-d, dim=-1)).mean()
    else:
        mine = torch.eye(len(d), dtype=torch.bool, device=d.device)[:, None, :]
        loss = F.relu(right + margin - d.masked_fill(mine, float("inf")).min(-1).values).mean()
    target = torch.arange(len(d), device=d.device)[:, None]
    return {"loss": loss, "acc": (d.argmin(-1) == target).float().mean().detach()}


class GoadTables(nn.Module):
    """The fixed random affine maps of ``dim``-d rows, the training loss, and the centres ``(M, F)`` that score."""

    def __init__(self, dim: int, count: int, feature_dim: int, seed: int = 0, margin: float | None = None,
                 eps: float = 0.0) -> None:
        super().__init__()
        if margin is not None and not margin > 0:
            raise ConfigError(f"triplet margin at learner.margin: expected a number > 0 or null, got {margin!r}. "
                              "Set margin: 1.0 (GOAD's), or null for the distance softmax's cross-entropy.")
        if not 0 <= eps < 1:
            raise ConfigError(f"probability floor at learner.eps: expected a number in [0, 1), got {eps!r}. "
                              "Set eps: 0 (none) or a small value such as 1e-6.")
        self.margin, self.eps = margin, float(eps)
        maps, shifts = random_affine_maps(count, dim, seed)
        # Saved with the weights: the maps are what the network learned to recognize, the centres how it scores.
        self.register_buffer("maps", maps)
        self.register_buffer("shifts", shifts)
        self.register_buffer("centres", torch.full((count, feature_dim), float("nan")))

    def transformed(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The ``M`` copies ``x @ W_m + b_m`` of rows ``x (B, D)``, each ``(B, D)``."""
        return list(torch.einsum("bd,mde->mbe", x, self.maps) + self.shifts[:, None])

    def loss(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss and accuracy of one batch from its copies' features ``z (M, B, F)`` (see :func:`goad_loss`)."""
        return goad_loss(z.float(), self.margin)

    @torch.no_grad()
    def fill(self, features: Features, batches: Any, prepare: Callable[[torch.Tensor], torch.Tensor],
             autocast: Callable[[], ContextManager[Any]]) -> None:
        """The centres: each transformation's mean feature over every training row."""
        total, n = torch.zeros_like(self.centres), 0
        for x, _ in batches:
            with autocast():
                z = features(prepare(x)).float()
            total += z.sum(1).to(total.device)
            n += z.shape[1]
        self.centres = total / max(n, 1)

    @torch.no_grad()
    def score(self, z: torch.Tensor) -> torch.Tensor:
        """Anomaly score ``(B,)`` of rows from their copies' features ``z (M, B, F)``: ``-sum_m log P~(m | T_m x)``."""
        if torch.isnan(self.centres).any():
            raise TrainingError("transformation centres at learner 'transform_prediction': expected centres of the "
                                "training rows, got none (they are fixed when training ends). Train before scoring.")
        return -own(distance_log_probs(centre_distances(z.to(self.centres.dtype), self.centres), self.eps)).sum(0)
