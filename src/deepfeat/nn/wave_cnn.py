"""A 1-D CNN over the raw waveform (M5 of Dai et al. 2017, "Very deep convolutional neural networks for
raw waveforms"): a wide strided first convolution learns its own filterbank, then conv-norm-ReLU-pool stages.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from deepfeat.checks import check_positive_int, check_sizes
from deepfeat.nn.encoder import ENCODERS, Encoder
from deepfeat.nn.init import init_module
from deepfeat.nn.norm import make_norm


class WaveCNNEncoder(Encoder):
    """``(B, C, T) -> (B, channels[-1])``: conv(first_kernel, stride) then one conv(kernel_size) per later
    channel count, each with norm, ReLU and max pool ``pool``; global average pooling over time.

    Pooling stops once the sequence is down to one step, so any clip length works.
    """

    name = "wave_cnn"

    def __init__(self, input_shape: Sequence[int], channels: Sequence[int] = (32, 32, 64, 64),
                 first_kernel: int = 80, stride: int = 4, kernel_size: int = 3, pool: int = 4,
                 norm: Any = "batch", weight_init: Any = "auto") -> None:
        super().__init__()
        self._setup(input_shape, "(C, T)", channels=check_sizes(channels, "wave_cnn channels", allow_empty=False),
                    first_kernel=check_positive_int(first_kernel, "wave_cnn first_kernel"),
                    stride=check_positive_int(stride, "wave_cnn stride"),
                    kernel_size=check_positive_int(kernel_size, "wave_cnn kernel_size"),
                    pool=check_positive_int(pool, "wave_cnn pool"), norm=norm, weight_init=weight_init)
        c, t = self.input_shape
        layers: list[nn.Module] = []
        for i, c_out in enumerate(self.config["channels"]):
            k, s = (first_kernel, stride) if i == 0 else (kernel_size, 1)
            layers += [nn.Conv1d(c, c_out, k, s, padding=k // 2), make_norm(norm, c_out, dims=1), nn.ReLU()]
            c, t = c_out, (t + 2 * (k // 2) - k) // s + 1
            if t >= pool > 1:
                layers.append(nn.MaxPool1d(pool))
                t //= pool
        self.features = init_module(nn.Sequential(*layers), weight_init, "zeros", "relu")
        self.feature_dim = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.features(x).mean(dim=2)


ENCODERS.add("wave_cnn", WaveCNNEncoder)
