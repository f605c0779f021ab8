"""Multilayer perceptrons: the reusable :class:`MLP` block and the ``mlp`` encoder.

Each hidden layer is ``Linear -> norm -> activation -> dropout``; the Linear has no bias when batch
norm follows, since the norm's shift makes it redundant (Ioffe & Szegedy 2015).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from deepfeat.nn.activations import ActivationSpec, get_activation
from deepfeat.checks import check_dropout, check_sizes
from deepfeat.nn.encoder import ENCODERS, Encoder
from deepfeat.nn.init import BiasInit, init_module
from deepfeat.nn.norm import make_norm, norm_name


class MLP(nn.Module):
    """Hidden blocks then an optional plain Linear output: ``(B, in_dim) -> (B, out_features)``.

    For heads and decoders. Hidden layers are initialized for ``activation``, the output layer for
    no activation (its outputs are logits, codes or reconstructions).
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int] = (),
        out_dim: int | None = None,
        activation: ActivationSpec = "relu",
        norm: Any = "none",
        dropout: float = 0.0,
        weight_init: Any = "auto",
        bias_init: BiasInit = "zeros",
    ) -> None:
        super().__init__()
        hidden = check_sizes(hidden, "MLP hidden")
        dropout = check_dropout(dropout, "MLP dropout")
        use_bias = norm_name(norm) != "batch"
        layers: list[nn.Module] = []
        for d_in, d_out in zip((in_dim, *hidden), hidden):
            layers += [nn.Linear(d_in, d_out, bias=use_bias), make_norm(norm, d_out, dims=0)]
            layers.append(get_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.net = init_module(nn.Sequential(*layers), weight_init, bias_init, activation)
        self.out_features = hidden[-1] if hidden else in_dim
        if out_dim is not None:
            out = nn.Linear(self.out_features, out_dim)
            self.net.append(init_module(out, weight_init, bias_init, activation="identity"))
            self.out_features = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MLPEncoder(Encoder):
    """Fully connected encoder: flattens ``(B, *input_shape)`` and maps it to ``(B, hidden[-1])``."""

    name = "mlp"

    def __init__(
        self,
        input_shape: Sequence[int],
        hidden: Sequence[int] = (256, 128),  # the width of each hidden layer; the last is feature_dim
        activation: ActivationSpec = "relu",  # after each hidden layer (deepfeat list activations)
        norm: Any = "none",  # after each hidden Linear (deepfeat list norms)
        dropout: float = 0.0,  # the share of each hidden layer's outputs zeroed in training
        weight_init: Any = "auto",  # how weights start (deepfeat list initializers); auto: fits the activation
        bias_init: BiasInit = "zeros",  # every bias starts at 0 (zeros) or at this number
    ) -> None:
        super().__init__()
        self._setup(
            input_shape, None, hidden=check_sizes(hidden, "mlp hidden"), activation=activation,
            norm=norm, dropout=dropout, weight_init=weight_init, bias_init=bias_init,
        )
        self.mlp = MLP(
            math.prod(self.input_shape), hidden, None, activation, norm, dropout, weight_init, bias_init
        )
        self.feature_dim = self.mlp.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, *input_shape) -> (B, feature_dim)``."""
        self.check_input(x)
        return self.mlp(x.flatten(1))

    def mlp_mirror(self) -> dict[str, Any]:
        """The MLP decoder mirroring this encoder reverses its hidden widths."""
        return {**super().mlp_mirror(), "hidden": tuple(reversed(self.config["hidden"]))}


ENCODERS.add("mlp", MLPEncoder)
