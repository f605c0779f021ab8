"""Sparse autoencoder: a penalty keeps most code units near zero for any one input.

``l1``: ``weight * mean_b sum_j |z_bj|`` on ReLU codes. ``kl``: on sigmoid codes, the KL divergence
between a target activation rate ``target`` and each unit's mean activation over the batch,
``weight * sum_j KL(target || mean_b z_bj)`` (Ng 2011, "Sparse autoencoder", CS294A lecture notes).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.autoencoder import Autoencoder
from deepfeat.learners.build import LEARNERS
from deepfeat.checks import check_choice

# Keeps log() finite when a unit's mean activation reaches 0 or 1.
_EPS = 1e-6


def kl_sparsity(code: torch.Tensor, target: float) -> torch.Tensor:
    """``sum_j KL(Bernoulli(target) || Bernoulli(rho_j))``, ``rho_j`` the mean of ``code[:, j]`` (B, D) in (0, 1)."""
    rho = code.float().mean(0).clamp(_EPS, 1 - _EPS)
    return (target * torch.log(target / rho) + (1 - target) * torch.log((1 - target) / (1 - rho))).sum()


class SparsityPenalty(nn.Module):
    """``(input, code (B, D)) -> weight * sparsity(code)``, ``kind`` "l1" or "kl"."""

    def __init__(self, kind: str, weight: float, target: float) -> None:
        super().__init__()
        self.kind, self.weight, self.target = kind, float(weight), float(target)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        if self.kind == "kl":
            return self.weight * kl_sparsity(code, self.target)
        return self.weight * code.float().abs().sum(1).mean()


@LEARNERS.register("sparse", aliases=("sparse_autoencoder",))
def sparse(info: DataInfo, encoder: Any = "mlp", code_dim: int = 64, likelihood: str = "gaussian",
           sparsity: str = "kl", weight: float = 0.1, target: float = 0.05) -> Autoencoder:
    """Autoencoder with an L1 or KL sparsity penalty on its code (Ng 2011)."""
    kind = check_choice(sparsity, ("l1", "kl"), "learner 'sparse' sparsity")
    if not 0 < target < 1 or weight < 0:
        raise ConfigError(
            f"learner 'sparse': expected 0 < target < 1 and weight >= 0, got target={target}, weight={weight}"
        )
    # KL needs activations in (0, 1) to read as firing rates; L1 pushes ReLU codes to exact zeros.
    activation = "sigmoid" if kind == "kl" else "relu"
    penalty = SparsityPenalty(kind, weight, target)
    return Autoencoder(info, encoder, code_dim, likelihood, None, activation, penalty, name="sparse")
