"""Input corruptions for denoising autoencoders, drawn fresh for every batch (Vincent et al. 2008, 2010).

A noise is a module ``x (B, ...) -> corrupted x`` of the same shape, chosen by name like every
pluggable piece: ``{name: gaussian, sigma: 0.5}``, ``{name: masking, p: 0.3}``,
``{name: salt_and_pepper, p: 0.2}``, ``{name: snr, snr_db: 5}`` (white noise at an SNR). It acts on raw values (pixels in [0, 1]), before the
dataset's normalization, so a strength means the same thing on every dataset. Draws use torch's
global generator, which ``seed_everything`` seeds and checkpoints save, so runs stay reproducible.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.registry import Registry

NOISES: Registry[nn.Module] = Registry("noise")


def _check_probability(p: float, where: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ConfigError(f"{where}: expected a probability in [0, 1], got {p!r}")
    return float(p)


@NOISES.register("gaussian", aliases=("normal",))
class GaussianNoise(nn.Module):
    """Additive ``N(0, sigma^2)`` noise, optionally clipped to ``[low, high]``.

    Unclipped, sigma = 0.5 on pixels in [0, 1] gives a noisy image of about 6 dB PSNR.
    """

    def __init__(self, sigma: float = 0.5, clip: bool = False, low: float = 0.0, high: float = 1.0) -> None:
        super().__init__()
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or sigma < 0:
            raise ConfigError(f"noise 'gaussian' sigma: expected a number >= 0, got {sigma!r}")
        self.sigma, self.clip, self.low, self.high = float(sigma), bool(clip), float(low), float(high)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, clip={self.clip}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        noisy = x + self.sigma * torch.randn_like(x)
        return noisy.clamp(self.low, self.high) if self.clip else noisy


@NOISES.register("masking", aliases=("dropout",))
class MaskingNoise(nn.Module):
    """Each value set to ``value`` (0: a missing pixel) with probability ``p`` (Vincent et al. 2008)."""

    def __init__(self, p: float = 0.3, value: float = 0.0) -> None:
        super().__init__()
        self.p, self.value = _check_probability(p, "noise 'masking' p"), float(value)

    def extra_repr(self) -> str:
        return f"p={self.p}, value={self.value}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = torch.rand_like(x) < self.p
        return x.masked_fill(mask, self.value)


@NOISES.register("salt_and_pepper", aliases=("salt_pepper", "impulse"))
class SaltAndPepperNoise(nn.Module):
    """Each value set, with probability ``p``, to ``low`` or ``high`` with equal chance (Vincent et al. 2010)."""

    def __init__(self, p: float = 0.2, low: float = 0.0, high: float = 1.0) -> None:
        super().__init__()
        self.p = _check_probability(p, "noise 'salt_and_pepper' p")
        self.low, self.high = float(low), float(high)

    def extra_repr(self) -> str:
        return f"p={self.p}, low={self.low}, high={self.high}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = torch.rand_like(x)
        # One uniform draw decides both whether a value is hit (u < p) and which way (u < p / 2).
        out = x.masked_fill(u < self.p, self.high)
        return out.masked_fill(u < self.p / 2, self.low)


@NOISES.register("snr", aliases=("white_noise_snr",))
class SNRNoise(nn.Module):
    """Additive white Gaussian noise at a signal-to-noise ratio of ``snr_db`` for each sample.

    The noise variance of a sample is its mean power over all its values divided by ``10^(snr_db / 10)``,
    so a clip's expected SNR is ``snr_db`` whatever its loudness (speech denoising at a given SNR).
    """

    def __init__(self, snr_db: float = 5.0) -> None:
        super().__init__()
        if isinstance(snr_db, bool) or not isinstance(snr_db, (int, float)) or not -50 <= snr_db <= 100:
            raise ConfigError(f"noise 'snr' snr_db: expected a number of dB in [-50, 100], got {snr_db!r}")
        self.snr_db = float(snr_db)

    def extra_repr(self) -> str:
        return f"snr_db={self.snr_db}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        power = x.float().pow(2).flatten(1).mean(1)  # (B,)
        sigma = (power / 10 ** (self.snr_db / 10)).sqrt().view(-1, *(1,) * (x.dim() - 1))
        return x + (sigma * torch.randn_like(x, dtype=torch.float32)).to(x.dtype)


def build_noise(spec: Any, where: str = "noise") -> nn.Module:
    """A noise module from ``"gaussian"`` or ``{name: gaussian, sigma: 0.5}`` (a module passes through)."""
    return NOISES.build(spec, where=where)
