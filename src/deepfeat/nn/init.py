"""Weight initializers by name, and :func:`init_module` to apply one to a whole network.

An initializer is a callable ``(weight, activation) -> None`` that fills ``weight`` in place; the
activation is the one that follows the layer. The named schemes are the textbook formulas
(Glorot & Bengio 2010 with gain 1, He et al. 2015 with ReLU's gain, LeCun normal, orthogonal from
Saxe et al. 2014); ``auto`` picks the scheme *and* gain the activation calls for
(see :func:`deepfeat.nn.activations.activation_family`), so deep plain networks neither collapse nor explode.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Union

import torch
from torch import nn
from torch.nn.utils import parametrize

from deepfeat.errors import ConfigError
from deepfeat.nn.activations import ActivationSpec, activation_family, split_activation
from deepfeat.registry import Registry, did_you_mean

Initializer = Callable[[torch.Tensor, ActivationSpec], None]
BiasInit = Union[str, float]

INITIALIZERS: Registry[Initializer] = Registry("initializer")


def fans(weight: torch.Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a Linear ``(out, in)`` or Conv ``(out, in, *k)`` weight, as torch counts them."""
    if weight.dim() < 2:
        raise ConfigError(
            f"initializer: expected a weight with at least 2 dims, got shape {tuple(weight.shape)}"
        )
    receptive = math.prod(weight.shape[2:])
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def _normal(weight: torch.Tensor, std: float) -> None:
    with torch.no_grad():
        weight.normal_(0.0, std)


def _he_gain(activation: ActivationSpec) -> float:
    # He et al. 2015 derive sqrt(2 / (1 + a^2)) for a (leaky) ReLU with negative slope a, and
    # sqrt(2) for ReLU; the textbook scheme uses that gain whatever the activation really is.
    name, kwargs = split_activation(activation)
    slope = kwargs.get("negative_slope", 0.01) if name == "leaky_relu" else 0.0
    return nn.init.calculate_gain("leaky_relu", slope)


@INITIALIZERS.register("xavier_uniform", aliases=("glorot_uniform",))
def xavier_uniform() -> Initializer:
    """U(-a, a), ``a = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010)."""
    return lambda weight, activation: nn.init.xavier_uniform_(weight)


@INITIALIZERS.register("xavier_normal", aliases=("glorot_normal",))
def xavier_normal() -> Initializer:
    """N(0, 2 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    return lambda weight, activation: nn.init.xavier_normal_(weight)


@INITIALIZERS.register("he_uniform", aliases=("kaiming_uniform",))
def he_uniform() -> Initializer:
    """U(-a, a), ``a = gain * sqrt(3 / fan_in)``, ReLU gain sqrt(2) (He et al. 2015)."""

    def init(weight: torch.Tensor, activation: ActivationSpec) -> None:
        bound = _he_gain(activation) * math.sqrt(3.0 / fans(weight)[0])
        with torch.no_grad():
            weight.uniform_(-bound, bound)

    return init


@INITIALIZERS.register("he_normal", aliases=("kaiming_normal",))
def he_normal() -> Initializer:
    """N(0, gain^2 / fan_in), ReLU gain sqrt(2) (He et al. 2015)."""
    return lambda weight, activation: _normal(weight, _he_gain(activation) / math.sqrt(fans(weight)[0]))


@INITIALIZERS.register("lecun_normal")
def lecun_normal() -> Initializer:
    """N(0, 1 / fan_in) (LeCun et al. 1998; the SELU init of Klambauer et al. 2017)."""
    return lambda weight, activation: _normal(weight, 1.0 / math.sqrt(fans(weight)[0]))


@INITIALIZERS.register("orthogonal")
def orthogonal(gain: float = 1.0) -> Initializer:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014)."""
    return lambda weight, activation: nn.init.orthogonal_(weight, gain=gain)


@INITIALIZERS.register("normal")
def normal(std: float = 0.01) -> Initializer:
    """N(0, std^2) whatever the layer size: the naive baseline that vanishes in deep nets."""
    return lambda weight, activation: _normal(weight, std)


@INITIALIZERS.register("zeros")
def zeros() -> Initializer:
    """All zeros (breaks symmetry nowhere: only for layers that must start at zero)."""
    return lambda weight, activation: nn.init.zeros_(weight)


@INITIALIZERS.register("auto")
def auto() -> Initializer:
    """Per layer, the scheme and gain matching its activation: He, Xavier(gain), LeCun or Xavier."""

    def init(weight: torch.Tensor, activation: ActivationSpec) -> None:
        family, gain = activation_family(activation)
        fan_in, fan_out = fans(weight)
        if family == "relu":
            _normal(weight, gain / math.sqrt(fan_in))
        elif family == "selu":
            _normal(weight, 1.0 / math.sqrt(fan_in))
        else:
            _normal(weight, gain * math.sqrt(2.0 / (fan_in + fan_out)))

    return init


def get_initializer(spec: Any, where: str = "weight_init") -> Initializer:
    """An initializer from a name or ``{name, ...}`` spec; a callable passes through."""
    init = INITIALIZERS.build(spec, where=where)
    if not callable(init):
        raise ConfigError(
            f"initializer at {where}: expected a name, a {{name: ..., ...}} mapping or a callable "
            f"(weight, activation) -> None, got {type(spec).__name__} {spec!r}"
        )
    return init


def _bias_value(bias_init: BiasInit, where: str = "bias_init") -> float:
    if isinstance(bias_init, bool) or not isinstance(bias_init, (str, int, float)):
        raise ConfigError(
            f"{where}: expected 'zeros' or a number, got {type(bias_init).__name__} {bias_init!r}"
        )
    if isinstance(bias_init, str):
        if bias_init.lower() != "zeros":
            raise ConfigError(
                f"unknown bias policy '{bias_init}' at {where}: expected 'zeros' or a number."
                f"{did_you_mean(bias_init.lower(), ['zeros'])}"
            )
        return 0.0
    return float(bias_init)


_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def _set_weight(module: nn.Module, name: str, fill: Callable[[torch.Tensor], None]) -> None:
    """Fill ``module.<name>``; a reparametrized weight (weight norm) is set through its inverse."""
    if parametrize.is_parametrized(module, name):
        weight = getattr(module, name).detach().clone()
        fill(weight)
        with torch.no_grad():
            setattr(module, name, weight)
    else:
        with torch.no_grad():  # user initializers need not take care of autograd themselves
            fill(getattr(module, name))


def _init_recurrent(
    rnn: nn.RNNBase, init: Initializer, auto_mode: bool, activation: ActivationSpec
) -> None:
    # Hidden-to-hidden weights are stacked gates (4H x H for LSTM); each gate block gets its own
    # orthogonal matrix so repeated application through time neither grows nor shrinks the state.
    for name, param in rnn.named_parameters():
        if name.startswith("weight_hh") and auto_mode:
            for gate in param.data.split(rnn.hidden_size, dim=0):
                nn.init.orthogonal_(gate)
        elif name.startswith("weight"):
            init(param.data, activation)


def init_module(
    module: nn.Module,
    weight_init: Any = "auto",
    bias_init: BiasInit = "zeros",
    activation: ActivationSpec = "relu",
) -> nn.Module:
    """Initialize every Linear/Conv/ConvTranspose/RNN weight and bias of ``module`` in place.

    ``activation`` is the nonlinearity that follows the layers (used by ``auto`` and He). Under
    ``auto``, recurrent hidden-to-hidden weights are orthogonal per gate. Biases get ``bias_init``
    ("zeros" or a constant); norm layers are reset to weight 1, bias 0. Returns ``module``.
    """
    init = get_initializer(weight_init)
    is_spec = isinstance(weight_init, (str, Mapping))
    auto_mode = is_spec and INITIALIZERS.split_spec(weight_init, "weight_init")[0] == "auto"
    bias = _bias_value(bias_init)
    for m in module.modules():
        if isinstance(m, _NORMS):
            m.reset_parameters()
            continue
        if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):
            _set_weight(m, "weight", lambda w: init(w, activation))
        elif isinstance(m, nn.RNNBase):
            _init_recurrent(m, init, auto_mode, activation)
        else:
            continue
        for name, param in m.named_parameters(recurse=False):
            if name.startswith("bias"):
                nn.init.constant_(param, bias)
    return module
