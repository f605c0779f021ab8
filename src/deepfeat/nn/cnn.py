"""Convolutional encoders for images ``(B, C, H, W)``: a plain VGG-style stack or ResNet blocks.

Works for any channel count and image size (8x8 digits, 28x28 MNIST, 32x32 CIFAR): convolutions
keep the size (``padding = kernel_size // 2``) and pooling stops once the map is 1x1.

``order`` places the pooling of each stage: ``conv-norm-act-pool`` (VGG's order, the default) or
``conv-pool-norm-act``, which pools right after the stage's first convolution, as fast CIFAR-10 trainers do
(Jordan 2024, airbench; hlb-CIFAR10). Max-pooling commutes with ReLU, so the second order computes nearly the
same function, but batch norm and the activation then run on a quarter of the positions: on a 2-core CPU they
are half of a small CNN's step time (``benchmarks/bench_core.py --fast``).
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.nn.activations import ActivationSpec, get_activation
from deepfeat.checks import check_choice, check_dropout, check_positive_int, check_sizes
from deepfeat.nn.encoder import ENCODERS, Encoder
from deepfeat.nn.decoders import ConvDecoder
from deepfeat.nn.init import BiasInit, init_module
from deepfeat.nn.mlp import MLP
from deepfeat.nn.norm import make_norm, norm_name


ORDERS = ("conv-norm-act-pool", "conv-pool-norm-act")


def conv_norm(c_in: int, c_out: int, kernel_size: int, stride: int, norm: Any) -> list[nn.Module]:
    """``[Conv2d, norm]``, same-size padding; no conv bias under batch norm (its shift replaces it)."""
    conv = nn.Conv2d(c_in, c_out, kernel_size, stride, kernel_size // 2, bias=norm_name(norm) != "batch")
    return [conv, make_norm(norm, c_out, dims=2)]


class BasicBlock(nn.Module):
    """ResNet basic block (He et al. 2016): ``act(norm(conv(act(norm(conv(x))))) + shortcut(x))``.

    ``(B, c_in, H, W) -> (B, c_out, ceil(H / stride), ceil(W / stride))``; the shortcut is a 1x1
    projection when channels or size change, else the identity.
    """

    def __init__(
        self, c_in: int, c_out: int, kernel_size: int, stride: int, norm: Any, activation: ActivationSpec
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *conv_norm(c_in, c_out, kernel_size, stride, norm),
            get_activation(activation),
            *conv_norm(c_out, c_out, kernel_size, 1, norm),
        )
        changes = stride != 1 or c_in != c_out
        self.shortcut = nn.Sequential(*conv_norm(c_in, c_out, 1, stride, norm)) if changes else nn.Identity()
        self.act = get_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


def _stages(
    input_shape: tuple[int, ...], cfg: dict[str, Any]
) -> tuple[list[nn.Module], tuple[int, int, int]]:
    """The conv stages for a :class:`CNNEncoder` config, and the ``(C, H, W)`` of their output."""
    c, h, w = input_shape
    k, norm, act = cfg["kernel_size"], cfg["norm"], cfg["activation"]
    pool_early = cfg["order"] == "conv-pool-norm-act"
    layers: list[nn.Module] = []

    def pool() -> None:
        nonlocal h, w
        if cfg["pool"] != "none" and (h > 1 or w > 1):
            # Pool only along sides longer than 1 so tiny maps shrink to 1x1 instead of crashing.
            window = (min(2, h), min(2, w))
            layers.append((nn.MaxPool2d if cfg["pool"] == "max" else nn.AvgPool2d)(window))
            h, w = h // window[0], w // window[1]

    for c_out in cfg["channels"]:
        for i in range(cfg["blocks_per_stage"]):
            s = cfg["stride"] if i == 0 else 1
            if cfg["residual"]:
                layers.append(BasicBlock(c, c_out, k, s, norm, act))
                norm_act: list[nn.Module] = []
            else:
                conv, norm_layer = conv_norm(c, c_out, k, s, norm)
                layers.append(conv)
                norm_act = [norm_layer, get_activation(act)]
            c, h, w = c_out, (h - 1) // s + 1, (w - 1) // s + 1
            if pool_early and i == 0:
                pool()
            layers += norm_act
            if cfg["dropout"] > 0:
                layers.append(nn.Dropout2d(cfg["dropout"]))  # drops whole maps (Tompson et al. 2015)
        if not pool_early:
            pool()
    return layers, (c, h, w)


class CNNEncoder(Encoder):
    """Stages of conv blocks, 2x2 pooling in each stage (after it, or after its first conv: ``order``),
    global pooling, optional MLP.

    ``(B, C, H, W) -> (B, feature_dim)``; ``feature_dim`` is ``channels[-1]`` (or ``hidden[-1]``,
    or ``C' * H' * W'`` with ``global_pool="flatten"``). ``residual=True`` uses ResNet basic blocks.
    """

    name = "cnn"

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int] = (32, 64),  # the output channels of each stage
        kernel_size: int = 3,  # odd: the convolutions keep the map's size
        stride: int = 1,  # of each stage's first convolution
        pool: str = "max",  # the 2x2 pooling in each stage: max, avg or none
        order: str = "conv-norm-act-pool",  # conv-pool-norm-act pools right after each stage's first convolution
        blocks_per_stage: int = 1,  # convolutions (or residual blocks) per stage
        residual: bool = False,  # ResNet basic blocks instead of plain convolutions
        norm: Any = "batch",  # after each convolution (deepfeat list norms)
        activation: ActivationSpec = "relu",  # after each norm (deepfeat list activations)
        dropout: float = 0.0,  # the share of whole feature maps dropped after each block in training
        global_pool: str = "avg",  # the last map to a vector: avg, max, or flatten (C' x H' x W' features)
        hidden: Sequence[int] = (),  # widths of an MLP after the global pooling; its last is feature_dim
        weight_init: Any = "auto",  # how weights start (deepfeat list initializers); auto: fits the activation
        bias_init: BiasInit = "zeros",  # every bias starts at 0 (zeros) or at this number
    ) -> None:
        super().__init__()
        channels = check_sizes(channels, "cnn channels", allow_empty=False)
        hidden = check_sizes(hidden, "cnn hidden")
        stride = check_positive_int(stride, "cnn stride")
        blocks_per_stage = check_positive_int(blocks_per_stage, "cnn blocks_per_stage")
        if residual and order != ORDERS[0]:
            raise ConfigError(f"cnn order: residual blocks pool after the stage (order: {ORDERS[0]}), got {order!r}")
        if check_positive_int(kernel_size, "cnn kernel_size") % 2 == 0:
            raise ConfigError(f"cnn kernel_size: expected an odd size (for same-size padding), got {kernel_size}")
        self._setup(
            input_shape, "(C, H, W)", channels=channels, kernel_size=kernel_size, stride=stride,
            pool=check_choice(pool, ("max", "avg", "none"), "cnn pool"),
            order=check_choice(order, ORDERS, "cnn order"),
            blocks_per_stage=blocks_per_stage,
            residual=bool(residual), norm=norm, activation=activation,
            dropout=check_dropout(dropout, "cnn dropout"),
            global_pool=check_choice(global_pool, ("avg", "max", "flatten"), "cnn global_pool"),
            hidden=hidden, weight_init=weight_init, bias_init=bias_init,
        )
        cfg = self.config
        layers, (c, h, w) = _stages(self.input_shape, cfg)
        self.features = init_module(nn.Sequential(*layers), weight_init, bias_init, activation)
        self.pool = {
            "avg": nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
            "max": nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten()),
            "flatten": nn.Flatten(),
        }[cfg["global_pool"]]
        pooled = c * h * w if cfg["global_pool"] == "flatten" else c
        self.head = MLP(pooled, hidden, None, activation, norm, cfg["dropout"], weight_init, bias_init)
        self.feature_dim = self.head.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, feature_dim)``."""
        self.check_input(x)
        return self.head(self.pool(self.features(x)))

    def mirror_decoder(self, code_dim: int) -> nn.Module:
        """Upsample + conv stages retracing this encoder's: ``(B, code_dim) -> (B, C, H, W)``."""
        return ConvDecoder(code_dim, self.input_shape, self.config)


ENCODERS.add("cnn", CNNEncoder)
ENCODERS.add(
    "resnet",
    functools.partial(CNNEncoder, residual=True, channels=(32, 64, 128), blocks_per_stage=2),
    description="ResNet-style CNN (He et al. 2016): residual blocks, channels (32, 64, 128), 2 per stage.",
)
