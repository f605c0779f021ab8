"""Initializers: textbook variances, `auto` per activation, init_module, and the depth oracle.

The depth oracle pushes N(0, 1) inputs through a 20-layer plain MLP (width 256, no norm) and
tracks the second moment of each layer's pre-activations: the matching init keeps it steady
(He 2015 for ReLU, Glorot 2010 with gain 5/3 for tanh, LeCun for SELU, Klambauer 2017); a
mismatched one makes it collapse or explode.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from deepfeat.errors import ConfigError
from deepfeat.nn import INITIALIZERS, MLP, get_initializer, init_module

FAN_OUT, FAN_IN = 256, 512


@pytest.mark.parametrize("name", INITIALIZERS.names())
@pytest.mark.parametrize("shape", [(64, 32), (16, 8, 3, 3), (8, 4, 5)])
def test_every_initializer_fills_in_place(name: str, shape: tuple[int, ...]) -> None:
    weight = torch.full(shape, float("nan"))
    get_initializer(name)(weight, "relu")
    assert torch.isfinite(weight).all()
    assert (weight == 0).all() == (name == "zeros")


STD = {
    "xavier_normal": math.sqrt(2 / (FAN_IN + FAN_OUT)),
    "xavier_uniform": math.sqrt(2 / (FAN_IN + FAN_OUT)),
    "he_normal": math.sqrt(2 / FAN_IN),
    "he_uniform": math.sqrt(2 / FAN_IN),
    "lecun_normal": math.sqrt(1 / FAN_IN),
    "normal": 0.01,
    "orthogonal": math.sqrt(1 / FAN_IN),  # orthonormal rows of length 1 over FAN_IN entries
}


@pytest.mark.parametrize("name", sorted(STD))
def test_textbook_std(name: str) -> None:
    weight = torch.empty(FAN_OUT, FAN_IN)
    get_initializer(name)(weight, "tanh")  # named schemes ignore the activation (He: leaky slope only)
    assert weight.std().item() == pytest.approx(STD[name], rel=0.03)


def test_he_uses_leaky_slope_and_orthogonal_is_orthogonal() -> None:
    weight = torch.empty(FAN_OUT, FAN_IN)
    get_initializer("kaiming_normal")(weight, {"name": "leaky_relu", "negative_slope": 0.5})
    assert weight.std().item() == pytest.approx(math.sqrt(2 / 1.25 / FAN_IN), rel=0.03)
    get_initializer("orthogonal")(weight, "relu")
    assert torch.allclose(weight @ weight.T, torch.eye(FAN_OUT), atol=1e-4)


@pytest.mark.parametrize(
    "activation, std",
    [
        ("relu", math.sqrt(2 / FAN_IN)),
        ("tanh", 5 / 3 * math.sqrt(2 / (FAN_IN + FAN_OUT))),
        ("sigmoid", math.sqrt(2 / (FAN_IN + FAN_OUT))),
        ("selu", math.sqrt(1 / FAN_IN)),
        ("identity", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ],
)
def test_auto_matches_activation(activation: str, std: float) -> None:
    weight = torch.empty(FAN_OUT, FAN_IN)
    get_initializer("auto")(weight, activation)
    assert weight.std().item() == pytest.approx(std, rel=0.03)


def _is_orthogonal(q: torch.Tensor) -> bool:
    return torch.allclose(q @ q.T, torch.eye(q.shape[0]), atol=1e-4)


def test_init_module_weights_biases_norms_rnns() -> None:
    model = nn.ModuleDict(
        {"fc": nn.Linear(32, 16), "bn": nn.BatchNorm1d(16), "lstm": nn.LSTM(16, 8), "conv": weight_norm(nn.Conv1d(4, 64, 3))}
    )
    nn.init.uniform_(model["bn"].weight)
    nn.init.uniform_(model["bn"].bias)
    init_module(model, "auto", 0.1, "relu")
    assert torch.equal(model["bn"].weight, torch.ones(16)) and torch.equal(model["bn"].bias, torch.zeros(16))
    assert torch.equal(model["fc"].bias, torch.full((16,), 0.1))
    assert torch.equal(model["lstm"].bias_hh_l0, torch.full((32,), 0.1))
    assert all(_is_orthogonal(g) for g in model["lstm"].weight_hh_l0.detach().split(8))
    # Weight norm is set through its inverse: the effective kernel has He's std.
    assert model["conv"].weight.std().item() == pytest.approx(math.sqrt(2 / 12), rel=0.15)

    init_module(model, "he_normal", "zeros", "relu")
    assert not _is_orthogonal(model["lstm"].weight_hh_l0.detach()[:8])


def test_bad_policies() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'zeros'"):
        init_module(nn.Linear(2, 2), bias_init="zero")
    with pytest.raises(ConfigError, match="Did you mean 'he_normal'"):
        init_module(nn.Linear(2, 2), weight_init="he_norml")


def _depth_profile(weight_init: object, activation: str, nets: int = 8) -> torch.Tensor:
    """Mean second moment of the pre-activations of layers 2..20, relative to layer 2.

    Layer 1 sees the raw input rather than an activation's output, so it is left out; averaging
    over a few networks removes the finite-width random walk (about +-60% over 20 layers at width 256).
    """
    width, depth = 256, 20
    moments = torch.zeros(depth)
    for _ in range(nets):
        mlp = MLP(width, (width,) * depth, activation=activation, weight_init=weight_init)
        x, i = torch.randn(256, width), 0
        with torch.no_grad():
            for layer in mlp.net:
                x = layer(x)
                if isinstance(layer, nn.Linear):
                    moments[i] += x.pow(2).mean()
                    i += 1
    return moments[1:] / moments[1]


@pytest.mark.parametrize("activation", ["relu", "tanh", "selu"])
def test_matched_init_keeps_signal_scale(activation: str) -> None:
    profile = _depth_profile("auto", activation)
    assert 0.5 < profile.min() and profile.max() < 2.0, profile


@pytest.mark.parametrize(
    "weight_init, activation, verdict",
    [
        ("normal", "relu", "collapse"),  # 256 * 0.01^2 * 0.5 = 0.013 per layer
        ("normal", "tanh", "collapse"),
        ("xavier_normal", "relu", "collapse"),  # ReLU halves the second moment at each layer
        ("lecun_normal", "relu", "collapse"),
        ("xavier_normal", "tanh", "shrinks"),  # without the 5/3 gain tanh decays like 1 / depth
        ({"name": "normal", "std": 0.1}, "relu", "explodes"),  # 1.28 per layer
        ("he_normal", "selu", "explodes"),
        ("he_normal", "identity", "explodes"),  # doubles at each layer
    ],
)
def test_mismatched_init_loses_signal_scale(weight_init: object, activation: str, verdict: str) -> None:
    last = _depth_profile(weight_init, activation, nets=1)[-1].item()
    if verdict == "collapse":
        assert last < 1e-3
    elif verdict == "shrinks":
        assert last < 0.2
    else:
        assert last > 10.0
