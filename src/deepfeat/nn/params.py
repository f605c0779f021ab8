"""Which parameters are *weights*: the ones that weight decay and L1/L2 penalties act on.

Only the weight matrices and kernels of Linear, Conv/ConvTranspose, recurrent and attention layers
count. Biases, normalization scales and shifts (BatchNorm/LayerNorm/GroupNorm) and embeddings do
not: shrinking a norm's scale or a bias towards 0 does not simplify the function, it only fights
the normalization (the no-decay groups of nanoGPT's ``configure_optimizers`` and of timm).
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch import nn
from torch.nn.utils import parametrize

# Layers whose non-bias parameters are weight matrices or kernels.
WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Bilinear,
    nn.modules.conv._ConvNd,
    nn.RNNBase,
    nn.RNNCellBase,
    nn.MultiheadAttention,
)


def _is_bias(name: str) -> bool:
    return "bias" in name.split(".")[-1]


def _weight_layers(module: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    for prefix, m in module.named_modules():
        if isinstance(m, WEIGHT_LAYERS):
            yield prefix, m


def decay_parameter_names(module: nn.Module) -> set[str]:
    """Names (as in ``module.named_parameters()``) of the weights to decay or penalize.

    A reparametrized weight (weight norm, spectral norm) decays its stored tensors that have the
    weight's full shape (the direction ``v``), not its per-channel magnitude ``g``.
    """
    names = set()
    for prefix, m in _weight_layers(module):
        dot = f"{prefix}." if prefix else ""
        for name, param in m.named_parameters():
            if _is_bias(name):
                continue
            if name.startswith("parametrizations."):
                tensor_name = name.split(".")[1]
                if tensor_name == "bias" or param.shape != getattr(m, tensor_name).shape:
                    continue
            elif "." in name:  # a parameter of a nested layer, visited on its own
                continue
            names.add(dot + name)
    return names


def split_decay_params(module: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """``(decay, no_decay)``: weights of linear/conv/rnn layers vs biases, norms, embeddings, others.

    Every trainable parameter lands in exactly one list, in ``named_parameters`` order.
    """
    decay_names = decay_parameter_names(module)
    decay, no_decay = [], []
    for name, param in module.named_parameters():
        if param.requires_grad:
            (decay if name in decay_names else no_decay).append(param)
    return decay, no_decay


def weight_tensors(module: nn.Module) -> list[torch.Tensor]:
    """The effective weight tensors of ``module`` (a weight-normed kernel as used in forward)."""
    tensors = []
    for _, m in _weight_layers(module):
        tensors += [p for name, p in m.named_parameters(recurse=False) if not _is_bias(name)]
        if parametrize.is_parametrized(m):
            tensors += [getattr(m, name) for name in m.parametrizations.keys() if not _is_bias(name)]
    return tensors
