"""Optimizers by registry name, with no-decay parameter groups and layer-wise learning rates.

``build_optimizer({"name": "adamw", "lr": 1e-3}, model)`` puts biases, norm parameters and
embeddings in a group without weight decay (nanoGPT's ``configure_optimizers``): decaying them
shrinks scales and offsets the network needs and buys no regularization.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.optim.fused import fast
from deepfeat.nn.params import split_decay_params
from deepfeat.registry import Registry, accepted_params, check_kwargs
from deepfeat.typecheck import coerce

ParamGroup = dict[str, Any]

OPTIMIZERS: Registry[torch.optim.Optimizer] = Registry("optimizer", takes=1)


@OPTIMIZERS.register("sgd")
def sgd(
    params: Iterable[ParamGroup],
    lr: float = 0.01,  # the learning rate: the step size
    momentum: float = 0.9,  # the share of the previous step kept in the next
    nesterov: bool = False,  # Nesterov momentum: the gradient taken after the momentum step
    weight_decay: float = 0.0,  # an L2 term added to the gradient (never to biases and norms)
) -> torch.optim.Optimizer:
    """Stochastic gradient descent with (optionally Nesterov) momentum."""
    return fast(torch.optim.SGD, params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)


@OPTIMIZERS.register("adam")
def adam(
    params: Iterable[ParamGroup],
    lr: float = 1e-3,  # the learning rate: the step size
    betas: tuple[float, float] = (0.9, 0.999),  # decay rates of the running mean of the gradient and of its square
    eps: float = 1e-8,  # added to the RMS of the gradient, so steps stay bounded where it is ~0
    weight_decay: float = 0.0,  # an L2 term added to the gradient (never to biases and norms)
) -> torch.optim.Optimizer:
    """Adam (Kingma & Ba, 2015); ``weight_decay`` is an L2 term added to the gradient, as in torch."""
    return fast(torch.optim.Adam, params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)


@OPTIMIZERS.register("adamw")
def adamw(
    params: Iterable[ParamGroup],
    lr: float = 1e-3,  # the learning rate: the step size
    betas: tuple[float, float] = (0.9, 0.999),  # decay rates of the running mean of the gradient and of its square
    eps: float = 1e-8,  # added to the RMS of the gradient, so steps stay bounded where it is ~0
    weight_decay: float = 0.01,  # weights shrink by lr x this each step, apart from the gradient (never biases, norms)
) -> torch.optim.Optimizer:
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019, "Decoupled Weight Decay Regularization")."""
    return fast(torch.optim.AdamW, params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)


@OPTIMIZERS.register("rmsprop")
def rmsprop(
    params: Iterable[ParamGroup],
    lr: float = 1e-3,
    alpha: float = 0.99,
    eps: float = 1e-8,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """RMSProp (Tieleman & Hinton, 2012): steps scaled by a running RMS of the gradient."""
    return torch.optim.RMSprop(
        params, lr=lr, alpha=alpha, eps=eps, momentum=momentum, weight_decay=weight_decay
    )


@OPTIMIZERS.register("adagrad")
def adagrad(
    params: Iterable[ParamGroup], lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """Adagrad (Duchi et al., 2011): per-parameter steps shrinking with the summed squared gradients."""
    return fast(torch.optim.Adagrad, params, lr=lr, eps=eps, weight_decay=weight_decay)


# Hyper-parameter ranges torch would only check when the optimizer is built, after the run folder exists.
_BOUNDS: dict[str, tuple[str, Callable[[float], bool]]] = {
    "lr": ("a number > 0", lambda v: v > 0),
    "weight_decay": ("a number >= 0", lambda v: v >= 0),
    "momentum": ("a number >= 0", lambda v: v >= 0),
    "eps": ("a number >= 0", lambda v: v >= 0),
    "alpha": ("a number >= 0", lambda v: v >= 0),
}


def check_hyperparameters(kwargs: Mapping[str, Any], where: str = "optimizer") -> None:
    """ConfigError when a (type-coerced) optimizer hyper-parameter is out of range: lr <= 0, weight_decay < 0, ..."""
    for key, (expected, ok) in _BOUNDS.items():
        value = kwargs.get(key)
        if isinstance(value, (int, float)) and not (math.isfinite(value) and ok(value)):
            raise ConfigError(f"{where}.{key}: expected {expected}, got {value:g}. Typical values: lr 1e-4 to 1e-1, "
                              "weight_decay 0 to 0.1, momentum 0 to 0.99.")
    betas = kwargs.get("betas")
    if betas is not None and not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
        raise ConfigError(f"{where}.betas: expected two numbers in [0, 1), got {list(betas)}. The default is [0.9, 0.999].")


def _groups(module: nn.Module, prefix: str = "", **extra: Any) -> list[ParamGroup]:
    decay, no_decay = split_decay_params(module)
    groups = [
        {"params": decay, "name": f"{prefix}decay", **extra},
        {"params": no_decay, "name": f"{prefix}no_decay", "weight_decay": 0.0, **extra},
    ]
    return [g for g in groups if g["params"]]


def layerwise_lr_groups(
    named_blocks: list[tuple[str, nn.Module]], base_lr: float, decay: float
) -> list[ParamGroup]:
    """Param groups for discriminative learning rates, blocks ordered from input to output.

    The last (top) block gets ``base_lr``, the one below ``base_lr * decay`` and block ``i`` from the
    top ``base_lr * decay**i`` (Howard & Ruder, 2018, ULMFiT; BEiT's layer decay), so pretrained
    low-level features move least. Each block is split into ``"<block>/decay"`` and
    ``"<block>/no_decay"`` groups.
    """
    if not 0.0 < decay <= 1.0:
        raise ConfigError(
            f"layer_decay: expected a number in (0, 1], got {decay!r}. Typical values are 0.6-0.9."
        )
    groups: list[ParamGroup] = []
    for depth, (name, block) in enumerate(reversed(named_blocks)):
        groups += _groups(block, f"{name}/", lr=base_lr * decay**depth)
    return groups


def build_optimizer(spec: Any, model: nn.Module, where: str = "optimizer") -> torch.optim.Optimizer:
    """Build an optimizer over ``model``'s trainable parameters from a registry spec.

    ``spec`` is a name or ``{name, **hyperparameters}``; an optional ``layer_decay`` key applies
    :func:`layerwise_lr_groups` to ``model.lr_blocks()``. A built optimizer is returned unchanged.
    """
    if isinstance(spec, torch.optim.Optimizer):
        return spec
    name, kwargs = OPTIMIZERS.split_spec(spec, where)
    factory = OPTIMIZERS.get(name)
    layer_decay = coerce(kwargs.pop("layer_decay", None), float | None, f"{where}.layer_decay")
    kwargs = check_kwargs(factory, kwargs, where, skip=1)
    check_hyperparameters(kwargs, where)
    if layer_decay is None:
        groups = _groups(model)
    else:
        groups = _layerwise_model_groups(model, factory, kwargs, layer_decay, where)
    if not groups:
        raise ConfigError(
            f"model at {where}: expected trainable parameters, got none. "
            "Unfreeze some parameters (requires_grad=True) before building the optimizer."
        )
    return factory(groups, **kwargs)


def _layerwise_model_groups(
    model: nn.Module, factory: Callable[..., Any], kwargs: dict[str, Any], layer_decay: float, where: str
) -> list[ParamGroup]:
    if not callable(getattr(model, "lr_blocks", None)):
        raise ConfigError(
            f"{where}.layer_decay: expected a model with lr_blocks(), got {type(model).__name__}. "
            "Remove layer_decay or use a learner that defines lr_blocks()."
        )
    base_lr = kwargs.get("lr", accepted_params(factory)["lr"].default)  # type: ignore[index]
    blocks = list(model.lr_blocks())
    groups = layerwise_lr_groups(blocks, base_lr, layer_decay)
    covered = {id(p) for g in groups for p in g["params"]}
    # Parameters outside every block (a new head, say) train at the full rate.
    for group in _groups(model, "rest/"):
        group["params"] = [p for p in group["params"] if id(p) not in covered]
        if group["params"]:
            groups.append(group)
    return groups
