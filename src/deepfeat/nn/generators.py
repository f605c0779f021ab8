"""Generators: latent codes ``(B, latent_dim)`` to samples ``(B, *output_shape)``.

:class:`ConvGenerator` is the DCGAN generator (Radford et al. 2016): a linear projection to a small
map, then stride-2 transposed convolutions with batch norm and ReLU, each doubling the size, for any
image size and channel count (8x8 digits, 28x28 MNIST, 32x32 colour). :class:`MLPGenerator` is the
same idea for vectors. Both take an optional class code (one-hot) concatenated to the latent, for
class-conditional generation (Mirza & Osindero 2014).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.nn.activations import ActivationSpec, get_activation
from deepfeat.checks import check_choice, check_positive_int, check_sizes
from deepfeat.nn.init import init_module
from deepfeat.nn.mlp import MLP
from deepfeat.nn.norm import make_norm, norm_name

OUTPUTS = ("tanh", "linear")
# DCGAN's initialization: every weight from N(0, 0.02) (Radford et al. 2016, section 4).
DCGAN_INIT = {"name": "normal", "std": 0.02}


def _output(kind: str) -> nn.Module:
    return nn.Tanh() if kind == "tanh" else nn.Identity()


def _with_code(z: torch.Tensor, code: torch.Tensor | None) -> torch.Tensor:
    return z if code is None else torch.cat([z, code.to(z.dtype)], dim=1)


class ConvGenerator(nn.Module):
    """DCGAN generator: ``z (B, latent_dim) [+ code (B, num_classes)] -> (B, C, H, W)``.

    With ``channels = (c0, ..., ck)`` the latent is projected to ``c0`` maps of size
    ``ceil(H / 2**(k+1)) x ceil(W / 2**(k+1))``; each of the ``k + 1`` transposed convolutions
    (kernel 4, stride 2) doubles the size and the last one emits ``C`` channels. Sizes that are not
    a multiple of the total stride are centre-cropped. ``output="tanh"`` gives values in [-1, 1].
    """

    def __init__(
        self,
        latent_dim: int,
        output_shape: Sequence[int],
        channels: Sequence[int] = (128, 64),
        norm: Any = "batch",
        activation: ActivationSpec = "relu",
        output: str = "tanh",
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        if len(output_shape) != 3:
            raise ConfigError(
                f"output_shape of the conv generator: expected (C, H, W), got {tuple(output_shape)}. "
                "Use generator: mlp for vectors and sequences."
            )
        self.latent_dim = check_positive_int(latent_dim, "generator latent_dim")
        self.output_shape = tuple(int(d) for d in output_shape)
        self.num_classes = num_classes
        channels = check_sizes(channels, "generator channels", allow_empty=False)
        c, h, w = self.output_shape
        scale = 2 ** len(channels)
        self.start = (channels[0], math.ceil(h / scale), math.ceil(w / scale))
        bias = norm_name(norm) != "batch"  # the norm's shift replaces the bias
        self.project = nn.Sequential(
            nn.Linear(latent_dim + num_classes, math.prod(self.start), bias=bias),
            nn.Unflatten(1, self.start), make_norm(norm, channels[0], dims=2), get_activation(activation),
        )
        layers: list[nn.Module] = []
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias), make_norm(norm, c_out, dims=2),
                       get_activation(activation)]
        layers += [nn.ConvTranspose2d(channels[-1], c, 4, 2, 1), _output(check_choice(output, OUTPUTS, "generator output"))]
        self.upsample = nn.Sequential(*layers)
        init_module(self, DCGAN_INIT, "zeros", activation)

    def forward(self, z: torch.Tensor, code: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, latent_dim)`` (+ one-hot ``(B, num_classes)``) -> ``(B, C, H, W)``."""
        x = self.upsample(self.project(_with_code(z, code)))
        _, h, w = self.output_shape
        top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
        return x[:, :, top: top + h, left: left + w]


class MLPGenerator(nn.Module):
    """Fully connected generator: ``z (B, latent_dim) [+ code] -> (B, *output_shape)`` (any shape)."""

    def __init__(
        self,
        latent_dim: int,
        output_shape: Sequence[int],
        hidden: Sequence[int] = (256, 256),
        norm: Any = "batch",
        activation: ActivationSpec = "relu",
        output: str = "linear",
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        self.latent_dim = check_positive_int(latent_dim, "generator latent_dim")
        self.output_shape = tuple(int(d) for d in output_shape)
        self.num_classes = num_classes
        self.mlp = MLP(latent_dim + num_classes, hidden, math.prod(self.output_shape), activation, norm)
        self.out = _output(check_choice(output, OUTPUTS, "generator output"))

    def forward(self, z: torch.Tensor, code: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, latent_dim)`` (+ one-hot ``(B, num_classes)``) -> ``(B, *output_shape)``."""
        return self.out(self.mlp(_with_code(z, code))).view(-1, *self.output_shape)
