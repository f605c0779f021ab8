"""InceptionTime's network for series ``(B, C, T)`` (Ismail Fawaz et al. 2020, "InceptionTime: Finding
AlexNet for time series classification").

Published defaults: depth 6 Inception modules of 32 filters each (4 branches -> 128 channels), kernel
sizes 40/20/10 (here 39/19/9: odd, so "same" padding is symmetric, as in most PyTorch ports), a 1x1
bottleneck of 32 channels when the input has more than one channel, a residual connection every 3
modules, global average pooling. The paper's *InceptionTime* is an ensemble of 5 such networks; this is
one network (train several seeds and average their probabilities for the ensemble).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from deepfeat.checks import check_positive_int, check_sizes
from deepfeat.nn.encoder import ENCODERS, Encoder
from deepfeat.nn.init import init_module
from deepfeat.nn.masking import masked_time_mean, valid_mask


class InceptionModule(nn.Module):
    """Bottleneck -> three parallel convolutions + (max pool -> 1x1 conv), concatenated, BN, ReLU.

    ``(B, c_in, T) -> (B, 4 * filters, T)``.
    """

    def __init__(self, c_in: int, filters: int, kernel_sizes: Sequence[int], bottleneck: int) -> None:
        super().__init__()
        use_bottleneck = bottleneck > 0 and c_in > 1
        self.bottleneck = nn.Conv1d(c_in, bottleneck, 1, bias=False) if use_bottleneck else nn.Identity()
        c_mid = bottleneck if use_bottleneck else c_in
        self.convs = nn.ModuleList(nn.Conv1d(c_mid, filters, k, padding="same", bias=False) for k in kernel_sizes)
        self.pool_conv = nn.Sequential(nn.MaxPool1d(3, stride=1, padding=1), nn.Conv1d(c_in, filters, 1, bias=False))
        self.out = nn.Sequential(nn.BatchNorm1d(filters * (len(kernel_sizes) + 1)), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.bottleneck(x)
        return self.out(torch.cat([conv(z) for conv in self.convs] + [self.pool_conv(x)], dim=1))


class InceptionEncoder(Encoder):
    """The Inception network of InceptionTime: ``(B, C, T) -> (B, 4 * filters)``.

    ``mask_padding``: leave trailing all-zero steps (the padding of variable-length series) out of the
    global average pooling (:func:`deepfeat.nn.masking.valid_mask`).
    """

    name = "inception"

    def __init__(self, input_shape: Sequence[int], depth: int = 6, filters: int = 32,
                 kernel_sizes: Sequence[int] = (39, 19, 9), bottleneck: int = 32, residual: bool = True,
                 mask_padding: bool = True) -> None:
        super().__init__()
        depth, filters = check_positive_int(depth, "inception depth"), check_positive_int(filters, "inception filters")
        self._setup(input_shape, "(C, T)", depth=depth, filters=filters,
                    kernel_sizes=check_sizes(kernel_sizes, "inception kernel_sizes", allow_empty=False),
                    bottleneck=int(bottleneck), residual=bool(residual), mask_padding=bool(mask_padding))
        width = filters * (len(self.config["kernel_sizes"]) + 1)
        c = self.input_shape[0]
        self.modules_ = nn.ModuleList()
        self.shortcuts = nn.ModuleList()
        res_c = c
        for d in range(depth):
            self.modules_.append(InceptionModule(c, filters, self.config["kernel_sizes"], bottleneck))
            c = width
            if residual and d % 3 == 2:  # a shortcut around every 3 modules (the paper's)
                self.shortcuts.append(nn.Sequential(nn.Conv1d(res_c, width, 1, bias=False), nn.BatchNorm1d(width)))
                res_c = width
        self.act = nn.ReLU()
        init_module(self, "xavier_uniform")  # Keras' glorot_uniform, the paper's initializer
        self.feature_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T) -> (B, feature_dim)``."""
        self.check_input(x)
        mask = valid_mask(x) if self.config["mask_padding"] else None
        h, res = x, x
        for d, module in enumerate(self.modules_):
            h = module(h)
            if self.config["residual"] and d % 3 == 2:
                h = self.act(h + self.shortcuts[d // 3](res))
                res = h
        return masked_time_mean(h, mask)


ENCODERS.add("inception", InceptionEncoder, aliases=("inception_time", "inceptiontime"),
             description="InceptionTime's network for series (C, T) (Ismail Fawaz et al. 2020).")
