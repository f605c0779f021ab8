"""Normalization layers by name: ``none``, ``batch``, ``layer``, ``group``.

``make_norm(name, num_features, dims)`` where ``dims`` is the number of spatial dimensions after
the channels: 0 for vectors ``(B, C)``, 1 for sequences ``(B, C, T)``, 2 for images
``(B, C, H, W)``. Every layer made for ``dims=1`` also accepts vectors, so ``dims=1`` is safe for both.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.registry import Registry

NORMS: Registry[nn.Module] = Registry("norm", takes=2)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over channels at each position: ``(B, C, *S) -> (B, C, *S)``.

    For sequences this keeps a temporal model causal: unlike ``GroupNorm(1, C)`` it never mixes
    statistics across time steps.
    """

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.movedim(1, -1)).movedim(-1, 1)


def _check_dims(dims: int) -> None:
    if dims not in (0, 1, 2):
        raise ConfigError(
            f"norm dims: expected 0 (vectors), 1 (sequences) or 2 (images), got {dims!r}"
        )


@NORMS.register("none")
def no_norm(num_features: int, dims: int) -> nn.Module:
    """No normalization."""
    return nn.Identity()


@NORMS.register("batch")
def batch_norm(num_features: int, dims: int) -> nn.Module:
    """Batch normalization over the batch and positions (Ioffe & Szegedy 2015)."""
    return nn.BatchNorm2d(num_features) if dims == 2 else nn.BatchNorm1d(num_features)


@NORMS.register("layer")
def layer_norm(num_features: int, dims: int) -> nn.Module:
    """Layer normalization (Ba et al. 2016): over features, per time step for sequences, GroupNorm(1, C) for maps."""
    if dims == 0:
        return nn.LayerNorm(num_features)
    if dims == 1:
        return ChannelLayerNorm(num_features)
    return nn.GroupNorm(1, num_features)


@NORMS.register("group")
def group_norm(num_features: int, dims: int, groups: int = 8) -> nn.Module:
    """Group normalization (Wu & He 2018) with the largest group count <= ``groups`` dividing C."""
    if groups < 1:
        raise ConfigError(f"norm 'group': expected groups >= 1, got {groups!r}")
    count = max(g for g in range(1, min(groups, num_features) + 1) if num_features % g == 0)
    return nn.GroupNorm(count, num_features)


def norm_name(spec: Any, where: str = "norm") -> str:
    """The canonical name of a norm spec (``"batch"``, ...), e.g. to drop biases a norm makes redundant."""
    # Each layer needs its own norm (its own statistics), so only specs are accepted, never a module.
    return NORMS.split_spec(spec, where)[0]


def make_norm(spec: Any, num_features: int, dims: int = 0, where: str = "norm") -> nn.Module:
    """A fresh normalization layer for ``num_features`` channels from a name or ``{name, ...}`` spec."""
    _check_dims(dims)
    norm_name(spec, where)
    return NORMS.build(spec, num_features, dims, where=where)
