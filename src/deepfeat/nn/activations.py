"""Activation functions by name, and the weight-init family and gain each one calls for.

``get_activation("relu")``, ``get_activation({"name": "leaky_relu", "negative_slope": 0.2})`` or a
module passed through unchanged (Keras' ``activations.get``). :func:`activation_family` tells the
``auto`` initializer which scheme keeps signals at a steady scale through depth: He et al. 2015 for
the ReLU family, Glorot & Bengio 2010 for saturating units, LeCun normal for SELU (Klambauer 2017).
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Union

from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.registry import Registry

ActivationSpec = Union[str, Mapping[str, Any], nn.Module]

ACTIVATIONS: Registry[nn.Module] = Registry("activation")


@ACTIVATIONS.register("relu")
def relu() -> nn.Module:
    """Rectified linear unit ``max(0, x)`` (Nair & Hinton 2010)."""
    return nn.ReLU()


@ACTIVATIONS.register("leaky_relu")
def leaky_relu(negative_slope: float = 0.01) -> nn.Module:
    """Leaky ReLU ``max(0, x) + negative_slope * min(0, x)`` (Maas et al. 2013)."""
    return nn.LeakyReLU(negative_slope)


@ACTIVATIONS.register("elu")
def elu() -> nn.Module:
    """Exponential linear unit (Clevert et al. 2016)."""
    return nn.ELU()


@ACTIVATIONS.register("selu")
def selu() -> nn.Module:
    """Scaled ELU, self-normalizing with LeCun-normal weights (Klambauer et al. 2017)."""
    return nn.SELU()


@ACTIVATIONS.register("gelu")
def gelu() -> nn.Module:
    """Gaussian error linear unit ``x * Phi(x)`` (Hendrycks & Gimpel 2016)."""
    return nn.GELU()


@ACTIVATIONS.register("silu", aliases=("swish",))
def silu() -> nn.Module:
    """SiLU / swish ``x * sigmoid(x)`` (Ramachandran et al. 2017)."""
    return nn.SiLU()


@ACTIVATIONS.register("mish")
def mish() -> nn.Module:
    """Mish ``x * tanh(softplus(x))`` (Misra 2019)."""
    return nn.Mish()


@ACTIVATIONS.register("softplus")
def softplus() -> nn.Module:
    """Softplus ``log(1 + exp(x))``, a smooth ReLU."""
    return nn.Softplus()


@ACTIVATIONS.register("sigmoid")
def sigmoid() -> nn.Module:
    """Logistic sigmoid ``1 / (1 + exp(-x))``."""
    return nn.Sigmoid()


@ACTIVATIONS.register("tanh")
def tanh() -> nn.Module:
    """Hyperbolic tangent."""
    return nn.Tanh()


@ACTIVATIONS.register("identity", aliases=("linear",))
def identity() -> nn.Module:
    """No activation: ``f(x) = x``."""
    return nn.Identity()


def get_activation(spec: ActivationSpec, where: str = "activation") -> nn.Module:
    """A fresh activation module from a name or ``{name, ...}`` spec; a module passes through."""
    module = ACTIVATIONS.build(spec, where=where)
    if not isinstance(module, nn.Module):
        raise ConfigError(
            f"activation at {where}: expected a name, a {{name: ..., ...}} mapping or an nn.Module, "
            f"got {type(spec).__name__} {spec!r}"
        )
    return module


class Family(NamedTuple):
    """Which init scheme an activation calls for, and the gain to scale it by."""

    family: str  # "relu" (He), "saturating" (Xavier), "selu" (LeCun), "linear" (Xavier)
    gain: float


# Module types users may pass instead of a name, mapped back to their registry names.
_MODULE_NAMES: dict[type[nn.Module], str] = {
    nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu", nn.ELU: "elu", nn.SELU: "selu",
    nn.GELU: "gelu", nn.SiLU: "silu", nn.Mish: "mish", nn.Softplus: "softplus",
    nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.Identity: "identity",
}
_FAMILIES = {
    "relu": "relu", "leaky_relu": "relu", "elu": "relu", "gelu": "relu", "silu": "relu",
    "mish": "relu", "softplus": "relu", "sigmoid": "saturating", "tanh": "saturating",
    "selu": "selu", "identity": "linear",
}


def split_activation(spec: ActivationSpec, where: str = "activation") -> tuple[str, dict[str, Any]]:
    """``(canonical name, kwargs)`` of an activation spec or of a built activation module."""
    if not isinstance(spec, nn.Module):
        return ACTIVATIONS.split_spec(spec, where)
    if type(spec) not in _MODULE_NAMES:
        raise ConfigError(
            f"activation at {where}: cannot tell the init family of module {type(spec).__name__}. "
            f"Pass its name instead (one of {', '.join(ACTIVATIONS.names())})."
        )
    kwargs = {"negative_slope": spec.negative_slope} if isinstance(spec, nn.LeakyReLU) else {}
    return _MODULE_NAMES[type(spec)], kwargs


def activation_family(spec: ActivationSpec, where: str = "activation") -> Family:
    """The init family and gain for an activation (``tanh -> ("saturating", 5/3)``).

    Gains come from ``torch.nn.init.calculate_gain`` (relu, leaky_relu with its slope, tanh,
    sigmoid, linear). SELU's weights are LeCun normal (gain 1, Klambauer 2017). The smooth
    ReLU-likes (elu, gelu, silu, mish, softplus) get ReLU's ``sqrt(2)``: they match ReLU for large
    inputs, and no gain gives them a stable fixed point, so in very deep plain stacks (20+ layers
    without norms) their signal still drifts slowly; use norms or SELU there.
    """
    name, kwargs = split_activation(spec, where)
    family = _FAMILIES[name]
    if name in ("relu", "tanh", "sigmoid"):
        return Family(family, nn.init.calculate_gain(name))
    if name == "leaky_relu":
        return Family(family, nn.init.calculate_gain(name, kwargs.get("negative_slope", 0.01)))
    if family == "relu":
        return Family(family, nn.init.calculate_gain("relu"))
    return Family(family, 1.0)

