"""Heads that sit on top of an encoder's features ``(B, feature_dim)``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepfeat.nn.init import init_module
from deepfeat.nn.mlp import MLP


class LinearHead(nn.Module):
    """One Linear layer, Xavier initialized: ``(B, in_dim) -> (B, out_dim)`` (logits, linear probe)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.linear = init_module(nn.Linear(in_dim, out_dim), "auto", "zeros", activation="identity")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear(z)


class ProjectionHead(nn.Module):
    """SimCLR projection head ``Linear -> norm -> ReLU -> Linear`` (Chen et al. 2020).

    ``(B, in_dim) -> (B, out_dim)``; the contrastive loss is computed on its output while the
    encoder's features before it are the ones kept for downstream use.
    """

    def __init__(self, in_dim: int, hidden: int = 512, out_dim: int = 128, norm: Any = "batch") -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.mlp = MLP(in_dim, (hidden,), out_dim, activation="relu", norm=norm)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.mlp(z)
