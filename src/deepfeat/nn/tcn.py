"""Temporal convolutional network encoder for sequences ``(B, C, T)`` (Bai, Kolter & Koltun 2018).

Residual blocks of two causal dilated convolutions, the dilation doubling per block (1, 2, 4, ...),
so the receptive field ``1 + 2 * (kernel_size - 1) * (2 ** len(channels) - 1)`` grows exponentially
with depth. Output step ``t`` depends only on inputs ``<= t`` for every norm but ``batch`` in
training mode (``layer`` normalizes each step over channels, never across time).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from deepfeat.nn.activations import ActivationSpec, get_activation
from deepfeat.checks import check_choice, check_dropout, check_positive_int, check_sizes
from deepfeat.nn.encoder import ENCODERS, Encoder
from deepfeat.nn.decoders import SequenceDecoder
from deepfeat.nn.init import BiasInit, init_module
from deepfeat.nn.norm import NORMS, make_norm, norm_name


def causal_conv(
    c_in: int, c_out: int, kernel_size: int, dilation: int, weight_normed: bool
) -> nn.Sequential:
    """Left-padded dilated Conv1d: ``(B, c_in, T) -> (B, c_out, T)``, step t sees inputs <= t only."""
    conv = nn.Conv1d(c_in, c_out, kernel_size, dilation=dilation)
    # Weight normalization (Salimans & Kingma 2016) is the TCN paper's choice of normalization.
    pad = nn.ConstantPad1d(((kernel_size - 1) * dilation, 0), 0.0)
    return nn.Sequential(pad, weight_norm(conv) if weight_normed else conv)


class TemporalBlock(nn.Module):
    """Residual block ``act(body(x) + shortcut(x))``: ``(B, c_in, T) -> (B, c_out, T)``.

    ``body`` is twice (causal dilated conv -> norm -> activation -> dropout); the shortcut is a
    1x1 conv when the channel count changes.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int,
        dilation: int,
        norm: Any,
        activation: ActivationSpec,
        dropout: float,
    ) -> None:
        super().__init__()
        weight_normed = norm == "weight"
        layers: list[nn.Module] = []
        for d_in in (c_in, c_out):
            layers.append(causal_conv(d_in, c_out, kernel_size, dilation, weight_normed))
            layers.append(nn.Identity() if weight_normed else make_norm(norm, c_out, dims=1))
            layers.append(get_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.body = nn.Sequential(*layers)
        self.shortcut = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.act = get_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class TCNEncoder(Encoder):
    """Causal dilated residual blocks pooled over time: ``(B, C, T) -> (B, channels[-1])``.

    ``norm``: "none", "weight" (the paper's), "batch", "layer" or "group". ``pooling="last"`` keeps
    the last step, which has seen the whole sequence when the receptive field covers it; ``"mean"``
    averages over time.
    """

    name = "tcn"

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int] = (32, 32, 32),
        kernel_size: int = 3,
        dropout: float = 0.0,
        activation: ActivationSpec = "relu",
        norm: Any = "none",
        pooling: str = "mean",
        weight_init: Any = "auto",
        bias_init: BiasInit = "zeros",
    ) -> None:
        super().__init__()
        kernel_size = check_positive_int(kernel_size, "tcn kernel_size")
        if isinstance(norm, str):
            norm = check_choice(norm, ("weight", *NORMS.names()), "tcn norm")
        else:
            norm_name(norm, "tcn norm")
        self._setup(
            input_shape, "(C, T)", channels=check_sizes(channels, "tcn channels", allow_empty=False),
            kernel_size=kernel_size, dropout=check_dropout(dropout, "tcn dropout"), activation=activation,
            norm=norm, pooling=check_choice(pooling, ("mean", "last"), "tcn pooling"),
            weight_init=weight_init, bias_init=bias_init,
        )
        cfg = self.config
        blocks, c = [], self.input_shape[0]
        for i, c_out in enumerate(cfg["channels"]):
            blocks.append(TemporalBlock(c, c_out, kernel_size, 2**i, norm, activation, cfg["dropout"]))
            c = c_out
        self.blocks = init_module(nn.Sequential(*blocks), weight_init, bias_init, activation)
        self.feature_dim = c

    @property
    def receptive_field(self) -> int:
        """How many input steps the last output step sees."""
        return 1 + 2 * (self.config["kernel_size"] - 1) * (2 ** len(self.config["channels"]) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T) -> (B, feature_dim)``."""
        self.check_input(x)
        h = self.blocks(x)  # (B, channels[-1], T), causal
        return h.mean(dim=2) if self.config["pooling"] == "mean" else h[:, :, -1]

    def mirror_decoder(self, code_dim: int) -> nn.Module:
        """A GRU as wide as the last block over the repeated code: ``(B, code_dim) -> (B, C, T)``."""
        return SequenceDecoder(code_dim, self.input_shape, "gru", self.config["channels"][-1])


ENCODERS.add("tcn", TCNEncoder)
