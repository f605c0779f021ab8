"""Recurrent encoders (LSTM, GRU) for sequences laid out channels-first, ``(B, C, T)`` like Conv1d.

LSTM: Hochreiter & Schmidhuber 1997; GRU: Cho et al. 2014. Input-to-hidden weights are Xavier
initialized (the gates are sigmoids), hidden-to-hidden weights orthogonal per gate (Saxe et al. 2014),
biases zero: Keras' defaults, which train stably without warm-up.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import torch
from torch import nn

from deepfeat.checks import check_choice, check_dropout, check_positive_int
from deepfeat.nn.encoder import ENCODERS, Encoder
from deepfeat.nn.decoders import SequenceDecoder
from deepfeat.nn.init import BiasInit, init_module

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class RNNEncoder(Encoder):
    """Stacked (bi)LSTM/GRU over time, pooled over time: ``(B, C, T) -> (B, feature_dim)``.

    ``feature_dim = hidden_size * (2 if bidirectional else 1)``. ``pooling="last"`` takes the output
    at the last step; bidirectional, it concatenates the forward direction's last step with the
    backward direction's first step (each direction's state after reading the whole sequence).
    ``pooling="mean"`` averages the outputs over time.
    """

    name = "rnn"

    def __init__(
        self,
        input_shape: Sequence[int],
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        pooling: str = "last",
        dropout: float = 0.0,
        weight_init: Any = "auto",
        bias_init: BiasInit = "zeros",
    ) -> None:
        super().__init__()
        self._setup(
            input_shape, "(C, T)", cell=check_choice(cell, tuple(_CELLS), "rnn cell"),
            hidden_size=check_positive_int(hidden_size, "rnn hidden_size"),
            num_layers=check_positive_int(num_layers, "rnn num_layers"), bidirectional=bool(bidirectional),
            pooling=check_choice(pooling, ("last", "mean"), "rnn pooling"),
            dropout=check_dropout(dropout, "rnn dropout"), weight_init=weight_init, bias_init=bias_init,
        )
        cfg = self.config
        # torch applies dropout between stacked layers only; with one layer it would only warn.
        self.rnn = _CELLS[cfg["cell"]](
            self.input_shape[0], hidden_size, num_layers, batch_first=True,
            dropout=cfg["dropout"] if num_layers > 1 else 0.0, bidirectional=cfg["bidirectional"],
        )
        init_module(self.rnn, weight_init, bias_init, activation="sigmoid")
        self.feature_dim = hidden_size * (2 if cfg["bidirectional"] else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T) -> (B, feature_dim)``."""
        self.check_input(x)
        out, _ = self.rnn(x.transpose(1, 2))  # (B, T, directions * H)
        if self.config["pooling"] == "mean":
            return out.mean(dim=1)
        if not self.config["bidirectional"]:
            return out[:, -1]
        h = self.config["hidden_size"]
        return torch.cat([out[:, -1, :h], out[:, 0, h:]], dim=1)

    def mirror_decoder(self, code_dim: int) -> nn.Module:
        """A recurrent network of this encoder's cell and sizes over the repeated code: ``(B, code_dim) -> (B, C, T)``."""
        cfg = self.config
        return SequenceDecoder(code_dim, self.input_shape, cfg["cell"], cfg["hidden_size"], cfg["num_layers"])


ENCODERS.add("rnn", RNNEncoder)
ENCODERS.add(
    "lstm", functools.partial(RNNEncoder, cell="lstm"), description="LSTM encoder (Hochreiter & Schmidhuber 1997)."
)
ENCODERS.add("gru", functools.partial(RNNEncoder, cell="gru"), description="GRU encoder (Cho et al. 2014).")
