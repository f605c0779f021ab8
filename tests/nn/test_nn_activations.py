"""Activations: every registered name builds and backprops; families and gains match torch's."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.nn import ACTIVATIONS, activation_family, get_activation


@pytest.mark.parametrize("name", ACTIVATIONS.names())
def test_every_activation_builds_and_backprops(name: str) -> None:
    act = get_activation(name)
    assert isinstance(act, nn.Module) and act is not get_activation(name)
    x = torch.randn(8, 5, requires_grad=True)
    y = act(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert activation_family(name).family in ("relu", "saturating", "selu", "linear")


def test_aliases_and_args() -> None:
    assert isinstance(get_activation("swish"), nn.SiLU)
    assert isinstance(get_activation("Linear"), nn.Identity)
    leaky = get_activation({"name": "leaky_relu", "negative_slope": 0.2})
    assert leaky(torch.tensor([-1.0])).item() == pytest.approx(-0.2)
    module = nn.Tanh()
    assert get_activation(module) is module


@pytest.mark.parametrize(
    "spec, family, gain",
    [
        ("relu", "relu", math.sqrt(2)),
        ("gelu", "relu", math.sqrt(2)),
        ({"name": "leaky_relu", "negative_slope": 0.2}, "relu", math.sqrt(2 / (1 + 0.2**2))),
        (nn.LeakyReLU(0.2), "relu", math.sqrt(2 / (1 + 0.2**2))),
        ("tanh", "saturating", 5 / 3),
        (nn.Sigmoid(), "saturating", 1.0),
        ("selu", "selu", 1.0),
        ("linear", "linear", 1.0),
    ],
)
def test_activation_family_and_gain(spec: object, family: str, gain: float) -> None:
    got = activation_family(spec)
    assert got.family == family
    assert got.gain == pytest.approx(gain)


def test_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'relu'"):
        get_activation("rellu")
    with pytest.raises(ConfigError, match="Did you mean 'negative_slope'"):
        get_activation({"name": "leaky_relu", "negative_slop": 0.1})
    with pytest.raises(ConfigError, match="Pass its name"):
        activation_family(nn.PReLU())
    with pytest.raises(ConfigError, match="expected a name"):
        get_activation(3)
