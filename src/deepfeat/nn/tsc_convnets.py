"""The FCN and ResNet baselines for series ``(B, C, T)`` of Wang, Yan & Oates 2017 ("Time series
classification from scratch with deep neural networks: a strong baseline").

FCN: three convolution blocks (128, 256, 128 filters; kernels 8, 5, 3), each Conv1d -> BN -> ReLU, then
global average pooling. ResNet: three residual blocks of 64, 128, 128 filters, each three such
convolutions (kernels 8, 5, 3) around a shortcut (1x1 conv + BN when the width changes, else BN), then
global average pooling. Kernels are even, as published: "same" padding pads one step more on the right.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.checks import check_sizes
from deepfeat.nn.encoder import ENCODERS, Encoder
from deepfeat.nn.init import init_module
from deepfeat.nn.masking import masked_time_mean, valid_mask


def conv_bn_relu(c_in: int, c_out: int, kernel_size: int, act: bool = True) -> list[nn.Module]:
    """``[pad, Conv1d, BN, ReLU]``: ``(B, c_in, T) -> (B, c_out, T)``; an even kernel pads one more step on
    the right, as Keras' "same" (the published code)."""
    pad = nn.ConstantPad1d(((kernel_size - 1) // 2, kernel_size // 2), 0.0)
    return [pad, nn.Conv1d(c_in, c_out, kernel_size), nn.BatchNorm1d(c_out)] + ([nn.ReLU()] if act else [])


class ResidualBlock1d(nn.Module):
    """``relu(convs(x) + shortcut(x))``, convs = conv-BN-ReLU per kernel (no ReLU after the last)."""

    def __init__(self, c_in: int, c_out: int, kernel_sizes: Sequence[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, k in enumerate(kernel_sizes):
            layers += conv_bn_relu(c_in if i == 0 else c_out, c_out, k, act=i < len(kernel_sizes) - 1)
        self.body = nn.Sequential(*layers)
        self.shortcut = (nn.Sequential(nn.Conv1d(c_in, c_out, 1), nn.BatchNorm1d(c_out)) if c_in != c_out
                         else nn.BatchNorm1d(c_out))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class _PooledConvNet(Encoder):
    """Shared part: a conv body over (B, C, T), then global average pooling over the real steps."""

    body: nn.Module

    def _configure(self, input_shape: Sequence[int], channels: Sequence[int], kernel_sizes: Sequence[int],
                   mask_padding: bool) -> None:
        """Record and check the shared settings: one kernel size per block (fcn) or per conv (resnet1d)."""
        self._setup(input_shape, "(C, T)", channels=check_sizes(channels, f"{self.name} channels", allow_empty=False),
                    kernel_sizes=check_sizes(kernel_sizes, f"{self.name} kernel_sizes", allow_empty=False),
                    mask_padding=bool(mask_padding))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T) -> (B, feature_dim)``."""
        self.check_input(x)
        mask = valid_mask(x) if self.config["mask_padding"] else None
        return masked_time_mean(self.body(x), mask)


class FCNEncoder(_PooledConvNet):
    """Fully convolutional network (Wang et al. 2017): ``(B, C, T) -> (B, channels[-1])``."""

    name = "fcn"

    def __init__(self, input_shape: Sequence[int], channels: Sequence[int] = (128, 256, 128),
                 kernel_sizes: Sequence[int] = (8, 5, 3), mask_padding: bool = True) -> None:
        super().__init__()
        self._configure(input_shape, channels, kernel_sizes, mask_padding)
        if len(self.config["channels"]) != len(self.config["kernel_sizes"]):
            raise ConfigError(f"fcn: expected one kernel size per conv block, got channels {list(channels)} and "
                              f"kernel_sizes {list(kernel_sizes)}. Give both lists the same length.")
        layers, c = [], self.input_shape[0]
        for c_out, k in zip(self.config["channels"], self.config["kernel_sizes"]):
            layers += conv_bn_relu(c, c_out, k)
            c = c_out
        self.body = init_module(nn.Sequential(*layers), "xavier_uniform")
        self.feature_dim = c


class ResNet1dEncoder(_PooledConvNet):
    """ResNet for series (Wang et al. 2017): ``(B, C, T) -> (B, channels[-1])``."""

    name = "resnet1d"

    def __init__(self, input_shape: Sequence[int], channels: Sequence[int] = (64, 128, 128),
                 kernel_sizes: Sequence[int] = (8, 5, 3), mask_padding: bool = True) -> None:
        super().__init__()
        self._configure(input_shape, channels, kernel_sizes, mask_padding)
        blocks, c = [], self.input_shape[0]
        for c_out in self.config["channels"]:
            blocks.append(ResidualBlock1d(c, c_out, self.config["kernel_sizes"]))
            c = c_out
        self.body = init_module(nn.Sequential(*blocks), "xavier_uniform")
        self.feature_dim = c


ENCODERS.add("fcn", FCNEncoder, description="Fully convolutional network for series (C, T) (Wang et al. 2017).")
ENCODERS.add("resnet1d", ResNet1dEncoder, aliases=("resnet_ts",),
             description="ResNet for series (C, T) (Wang et al. 2017).")
