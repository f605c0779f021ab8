"""A 1-D convolutional decoder for series autoencoders: ``(B, code_dim) -> (B, C, T)``.

For series encoders that pool over time into one vector (``fcn``, ``resnet1d``, ``inception``, ``tcn``), chosen with
``learner: {name: autoencoder, decoder: conv1d}``: a Linear layer maps the code to a short feature map
``(width_0, ceil(T / 2**k))``, then each of ``k`` stages upsamples it (nearest neighbour, to the exact length, so
any ``T`` is reached) and convolves it, BN + ReLU, before a last convolution to the ``C`` channels. Upsampling + convolution instead of transposed convolutions
avoids their checkerboard artefacts (Odena, Dumoulin & Olah 2016). Registered as ``conv1d`` in
:data:`deepfeat.nn.decoders.DECODERS`, not as any encoder's default mirror: on windows of KDD-TSAD_135 it did not beat
the MLP decoder (docs/benchmarks/windows.md). No output activation (values).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.nn.decoders import DECODERS
from deepfeat.nn.init import init_module


def upsampled_lengths(steps: int, stages: int) -> list[int]:
    """Lengths of the decoder's feature maps, shortest first: ``[ceil(T / 2**stages), ..., ceil(T / 2), T]``."""
    return [math.ceil(steps / 2 ** s) for s in range(stages, -1, -1)]


class Conv1dDecoder(nn.Module):
    """Linear -> ``(widths[0], T / 2**k)``, then ``k = len(widths)`` stages of upsample x2 + Conv1d + BN + ReLU
    (stage ``i`` outputs ``widths[i]`` channels), then Conv1d to ``C``: ``(B, code_dim) -> (B, C, T)``."""

    def __init__(self, code_dim: int, output_shape: Sequence[int], widths: Sequence[int] = (128, 64),
                 kernel_size: int = 5) -> None:
        super().__init__()
        channels, steps = int(output_shape[0]), int(output_shape[1])
        self.output_shape = (channels, steps)
        lengths = upsampled_lengths(steps, len(widths))
        self.start_shape = (int(widths[0]), lengths[0])
        self.project = nn.Sequential(nn.Linear(code_dim, math.prod(self.start_shape)), nn.ReLU())
        layers: list[nn.Module] = []
        c = int(widths[0])
        for width, length in zip(widths, lengths[1:]):
            layers += [nn.Upsample(size=length, mode="nearest"),
                       nn.Conv1d(c, int(width), kernel_size, padding=kernel_size // 2, bias=False),
                       nn.BatchNorm1d(int(width)), nn.ReLU()]
            c = int(width)
        self.body = nn.Sequential(*layers)
        for part in (self.project, self.body):
            init_module(part, "auto", "zeros", "relu")
        self.out = init_module(nn.Conv1d(c, channels, kernel_size, padding=kernel_size // 2), "auto", "zeros",
                               "identity")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(self.project(z).view(-1, *self.start_shape)))


def _conv1d_mirror(encoder: nn.Module, code_dim: int) -> nn.Module:
    """Two upsampling stages as wide as the encoder's features, then half that (at least 16 channels)."""
    if len(encoder.input_shape) != 2:
        raise ConfigError(f"decoder 'conv1d' at learner.decoder: expected series (C, T), got samples of shape "
                          f"{tuple(encoder.input_shape)}. Use decoder: auto (the encoder's mirror).")
    width = int(encoder.feature_dim)
    return Conv1dDecoder(code_dim, encoder.input_shape, (width, max(width // 2, 16)))


DECODERS.add("conv1d", _conv1d_mirror, description="Upsample + Conv1d stages for series (C, T), any series encoder "
             "(learner.decoder: conv1d).")
