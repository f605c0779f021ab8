"""Normalization by name: the right layer per input kind, fresh per call, clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.nn import NORMS, make_norm

SHAPES = {0: (4, 12), 1: (4, 12, 7), 2: (4, 12, 5, 5)}


@pytest.mark.parametrize("dims", [0, 1, 2])
@pytest.mark.parametrize("name", NORMS.names())
def test_every_norm_keeps_shape(name: str, dims: int) -> None:
    norm = make_norm(name, 12, dims)
    x = torch.randn(SHAPES[dims])
    y = norm(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert make_norm(name, 12, dims) is not norm


def test_layer_kinds() -> None:
    assert isinstance(make_norm("batch", 6, 2), nn.BatchNorm2d)
    assert isinstance(make_norm("layer", 6, 0), nn.LayerNorm)
    gn = make_norm("layer", 6, 2)
    assert isinstance(gn, nn.GroupNorm) and gn.num_groups == 1
    assert make_norm("group", 12, 2).num_groups == 6  # largest divisor of 12 that is <= 8
    assert make_norm({"name": "group", "groups": 4}, 12, 2).num_groups == 4


def test_sequence_layer_norm_is_per_time_step() -> None:
    x = torch.randn(2, 6, 9)
    y = make_norm("layer", 6, 1)(x)
    x[:, :, 5:] = 100.0  # the future must not change earlier steps
    assert torch.allclose(make_norm("layer", 6, 1)(x)[:, :, :5], y[:, :, :5])


def test_errors() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'batch'"):
        make_norm("bacth", 4, 0)
    with pytest.raises(ConfigError, match="expected 0"):
        make_norm("batch", 4, 3)
    with pytest.raises(ConfigError, match="expected a name"):
        make_norm(nn.BatchNorm1d(4), 4, 0)
