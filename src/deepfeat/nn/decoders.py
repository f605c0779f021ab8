"""Decoders that mirror an encoder: ``(B, code_dim) -> (B, *input_shape)``, for autoencoders and VAEs.

An encoder supplies its own mirror (:meth:`~deepfeat.nn.encoder.Encoder.mirror_decoder`, defined next to it),
built from the parts here: a CNN's mirror retraces its stages with nearest-neighbour upsampling followed by a
convolution, which avoids the checkerboard artefacts of transposed convolutions (Odena, Dumoulin & Olah 2016)
and reaches any odd size exactly (28 -> 14 -> 7 and back); an RNN's or TCN's unrolls a recurrent network over
the code repeated at every step (Srivastava et al. 2015). An encoder without a mirror of its own gets the
MLP decoder (:meth:`~deepfeat.nn.encoder.Encoder.mlp_mirror`; an MLP encoder's reverses its hidden widths).
``DECODERS`` holds the decoders a config may name instead (``learner.decoder``).
Outputs carry no final activation: they are values (Gaussian likelihood) or logits (Bernoulli).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.nn.activations import get_activation
from deepfeat.nn.encoder import Encoder
from deepfeat.nn.init import init_module
from deepfeat.nn.mlp import MLP
from deepfeat.nn.norm import make_norm, norm_name
from deepfeat.registry import Registry

DecoderFactory = Callable[[nn.Module, int], nn.Module]
DECODERS: Registry[nn.Module] = Registry("decoder", takes=2)


def build_decoder(encoder: Encoder, code_dim: int, decoder: str = "auto") -> nn.Module:
    """The decoder mirroring ``encoder`` (its :meth:`~deepfeat.nn.encoder.Encoder.mirror_decoder`, else the MLP
    decoder), or the registered ``decoder`` by name (e.g. ``conv1d`` for any series encoder)."""
    if decoder != "auto":
        factory = DECODERS.get(decoder, "learner.decoder")
        try:
            return factory(encoder, code_dim)
        except (KeyError, ValueError, RuntimeError) as e:  # a mirror reading another encoder kind's settings
            raise ConfigError(f"decoder '{decoder}' at learner.decoder: expected an encoder it can decode for, got "
                              f"encoder '{encoder.config.get('name')}' ({type(e).__name__}: {e}). Use decoder: auto, "
                              "mlp, or conv1d for series.") from None
    mirror = encoder.mirror_decoder(code_dim)
    return mirror if mirror is not None else _mlp_mirror(encoder, code_dim)


class MLPDecoder(nn.Module):
    """Fully connected decoder: ``(B, code_dim) -> (B, *output_shape)`` through ``hidden`` widths."""

    def __init__(self, code_dim: int, output_shape: Sequence[int], hidden: Sequence[int] = (),
                 activation: Any = "relu", norm: Any = "none") -> None:
        super().__init__()
        self.output_shape = tuple(output_shape)
        self.mlp = MLP(code_dim, tuple(hidden), math.prod(self.output_shape), activation, norm)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.mlp(z).view(-1, *self.output_shape)


def _mlp_mirror(encoder: Encoder, code_dim: int) -> nn.Module:
    return MLPDecoder(code_dim, encoder.input_shape, **encoder.mlp_mirror())


def cnn_stage_sizes(input_shape: Sequence[int], cfg: dict[str, Any]) -> list[tuple[int, int]]:
    """``(H, W)`` entering each stage of a :class:`~deepfeat.nn.cnn.CNNEncoder`, then its final map size."""
    _, h, w = input_shape
    sizes = [(h, w)]
    for _ in cfg["channels"]:
        for i in range(cfg["blocks_per_stage"]):
            s = cfg["stride"] if i == 0 else 1
            h, w = (h - 1) // s + 1, (w - 1) // s + 1
        if cfg["pool"] != "none" and (h > 1 or w > 1):
            h, w = h // min(2, h), w // min(2, w)
        sizes.append((h, w))
    return sizes


class ConvDecoder(nn.Module):
    """Mirror of a CNN encoder: Linear to the last feature map, then per stage upsample + conv blocks.

    ``(B, code_dim) -> (B, C, H, W)``; stage ``k`` of the encoder (``sizes[k] -> sizes[k+1]``,
    ``channels[k-1] -> channels[k]``) is undone by upsampling to ``sizes[k]`` and convolving back.
    """

    def __init__(self, code_dim: int, input_shape: Sequence[int], cfg: dict[str, Any]) -> None:
        super().__init__()
        c_in, channels, k = input_shape[0], list(cfg["channels"]), cfg["kernel_size"]
        norm, act = cfg["norm"], cfg["activation"]
        sizes = cnn_stage_sizes(input_shape, cfg)
        self.start_shape = (channels[-1], *sizes[-1])
        self.project = nn.Sequential(nn.Linear(code_dim, math.prod(self.start_shape)), get_activation(act))
        layers: list[nn.Module] = []
        for stage in reversed(range(len(channels))):
            if sizes[stage] != sizes[stage + 1]:
                layers.append(nn.Upsample(size=sizes[stage], mode="nearest"))
            c_out = channels[max(stage - 1, 0)]
            for block in range(cfg["blocks_per_stage"]):
                c = channels[stage] if block == 0 else c_out
                conv = nn.Conv2d(c, c_out, k, padding=k // 2, bias=norm_name(norm) != "batch")
                layers += [conv, make_norm(norm, c_out, dims=2), get_activation(act)]
        for part in (self.project, *layers):
            init_module(part, cfg["weight_init"], cfg["bias_init"], act)
        self.body = nn.Sequential(*layers)
        self.out = init_module(nn.Conv2d(channels[0], c_in, k, padding=k // 2), "auto", "zeros", "identity")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(self.project(z).view(-1, *self.start_shape)))


def _cnn_mirror(encoder: nn.Module, code_dim: int) -> nn.Module:
    return ConvDecoder(code_dim, encoder.input_shape, encoder.config)


class SequenceDecoder(nn.Module):
    """Recurrent decoder: the code repeated at each of ``T`` steps -> LSTM/GRU -> Linear per step.

    ``(B, code_dim) -> (B, C, T)`` (Srivastava, Mansimov & Salakhutdinov 2015).
    """

    def __init__(self, code_dim: int, output_shape: Sequence[int], cell: str = "gru",
                 hidden_size: int = 64, num_layers: int = 1) -> None:
        super().__init__()
        self.channels, self.steps = int(output_shape[0]), int(output_shape[1])
        self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](code_dim, hidden_size, num_layers, batch_first=True)
        init_module(self.rnn, "auto", "zeros", activation="sigmoid")
        self.out = init_module(nn.Linear(hidden_size, self.channels), "auto", "zeros", "identity")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(z.unsqueeze(1).expand(-1, self.steps, -1))  # (B, T, hidden)
        return self.out(out).transpose(1, 2)


def _rnn_mirror(encoder: nn.Module, code_dim: int) -> nn.Module:
    cfg = encoder.config
    return SequenceDecoder(code_dim, encoder.input_shape, cfg["cell"], cfg["hidden_size"], cfg["num_layers"])


def _tcn_mirror(encoder: nn.Module, code_dim: int) -> nn.Module:
    return SequenceDecoder(code_dim, encoder.input_shape, "gru", encoder.config["channels"][-1])


DECODERS.add("mlp", _mlp_mirror, description="Mirrored MLP (also the decoder of encoders without a mirror).")
DECODERS.add("cnn", _cnn_mirror, description="Upsample + conv stages mirroring a CNN encoder (Odena et al. 2016).")
DECODERS.add("rnn", _rnn_mirror, description="LSTM/GRU over the repeated code (Srivastava et al. 2015).")
DECODERS.add("tcn", _tcn_mirror, description="GRU over the repeated code, for TCN encoders.")
