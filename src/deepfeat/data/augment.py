"""Batched random augmentations on tensors, for self-supervised views (SimCLR, Chen et al. 2020).

Every transform works on a whole batch at once (one ``grid_sample`` for crop + flip, one grouped
convolution for blur), draws its randomness from the ``torch.Generator`` it is given (so views are
reproducible from a seed) and keeps the input's shape. Inputs are deepfeat's standardized tensors,
so intensity changes are expressed in standard deviations of the data.

Image: random resized crop, horizontal flip (off by default: it turns digits and text into other
symbols), brightness/contrast jitter, saturation jitter and random grayscale for colour images,
Gaussian blur. Sequence (Um et al. 2017, "Data augmentation of wearable sensor data"): jitter
(additive noise), per-channel scaling, random crop stretched back to the full length.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from deepfeat.data.kinds import kind_named
from deepfeat.errors import ConfigError
from deepfeat.registry import Registry

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
AUGMENTATIONS: Registry[Augment] = Registry("augmentation")


def _uniform(n: int, low: float, high: float, g: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g)


def _coin(n: int, p: float, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g) < p


def _check_range(value: tuple[float, float], low: float, high: float, where: str) -> tuple[float, float]:
    a, b = (float(v) for v in value)
    if not low <= a <= b <= high:
        raise ConfigError(f"{where}: expected (min, max) with {low} <= min <= max <= {high}, got {tuple(value)}")
    return a, b


class ImageAugment:
    """Random resized crop (+ flip), colour jitter, blur for ``(B, C, H, W)`` -> ``(B, C, H, W)``."""

    def __init__(
        self,
        crop_scale: tuple[float, float] = (0.3, 1.0),
        crop_ratio: tuple[float, float] = (0.75, 1.3333),
        flip: bool = False,
        jitter: float = 0.4,
        jitter_p: float = 0.8,
        grayscale_p: float = 0.2,
        blur_p: float = 0.5,
        blur_sigma: tuple[float, float] = (0.1, 1.0),
    ) -> None:
        self.crop_scale = _check_range(crop_scale, 1e-3, 1.0, "augment.crop_scale")
        self.crop_ratio = _check_range(crop_ratio, 1e-2, 1e2, "augment.crop_ratio")
        self.blur_sigma = _check_range(blur_sigma, 1e-3, 1e2, "augment.blur_sigma")
        self.flip, self.jitter, self.jitter_p = flip, jitter, jitter_p
        self.grayscale_p, self.blur_p = grayscale_p, blur_p

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        x = self.crop(x, g)
        if self.jitter > 0:
            x = self.color(x, g)
        if self.blur_p > 0:
            x = self.blur(x, g)
        return x

    def crop(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Random resized crop and optional horizontal flip, as one affine resampling."""
        b = x.shape[0]
        area = _uniform(b, *self.crop_scale, g)
        log_ratio = _uniform(b, math.log(self.crop_ratio[0]), math.log(self.crop_ratio[1]), g).exp()
        w = (area * log_ratio).sqrt().clamp(max=1.0)
        h = (area / log_ratio).sqrt().clamp(max=1.0)
        # Centres keep the crop inside the image, so no padding value is ever sampled.
        cx, cy = (2 * torch.rand(b, generator=g) - 1) * (1 - w), (2 * torch.rand(b, generator=g) - 1) * (1 - h)
        sx = torch.where(_coin(b, 0.5, g), -w, w) if self.flip else w
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx, cx, h, cy
        grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def color(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Brightness and contrast jitter; saturation and random grayscale on colour images only."""
        b, s = x.shape[0], self.jitter
        on = _coin(b, self.jitter_p, g)
        shift = torch.where(on, _uniform(b, -s, s, g), torch.zeros(b)).view(b, 1, 1, 1).to(x)
        scale = torch.where(on, _uniform(b, 1 - s, 1 + s, g), torch.ones(b)).view(b, 1, 1, 1).to(x)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * scale + mean + shift
        if x.shape[1] == 3:
            sat = torch.where(on, _uniform(b, 1 - s, 1 + s, g), torch.ones(b))
            sat = torch.where(_coin(b, self.grayscale_p, g), torch.zeros(b), sat).view(b, 1, 1, 1).to(x)
            gray = x.mean(dim=1, keepdim=True)
            x = gray + (x - gray) * sat
        return x

    def blur(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Gaussian blur with a random sigma per image, applied to a ``blur_p`` share of the batch."""
        b, c, h, w = x.shape
        sigma = torch.where(_coin(b, self.blur_p, g), _uniform(b, *self.blur_sigma, g), torch.zeros(b))
        radius = min(math.ceil(2 * self.blur_sigma[1]), (min(h, w) - 1) // 2)
        if radius < 1:
            return x
        offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
        kernel = torch.exp(-offsets**2 / (2 * sigma.clamp(min=1e-3).view(b, 1) ** 2))
        kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0).to(x)  # (B*C, k)
        # Separable blur of every (image, channel) map with its own kernel via a grouped conv.
        y = F.pad(x.reshape(1, b * c, h, w), (radius,) * 4, mode="replicate")
        y = F.conv2d(y, kernel.view(b * c, 1, 1, -1), groups=b * c)
        y = F.conv2d(y, kernel.view(b * c, 1, -1, 1), groups=b * c)
        return y.view(b, c, h, w)


class SequenceAugment:
    """Jitter, per-channel scaling and random crop (stretched back) for ``(B, C, T)`` -> ``(B, C, T)``."""

    def __init__(self, jitter: float = 0.1, scale: float = 0.2, crop: tuple[float, float] = (0.6, 1.0)) -> None:
        self.crop_range = _check_range(crop, 1e-2, 1.0, "augment.crop")
        self.jitter, self.scale = float(jitter), float(scale)

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        b, c, t = x.shape
        x = self.crop(x, g)
        factors = 1 + self.scale * torch.randn(b, c, 1, generator=g)
        noise = self.jitter * torch.randn(b, c, t, generator=g)
        return x * factors.to(x) + noise.to(x)

    def crop(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """A random window of each sequence (its length drawn per batch) resized to the full length."""
        b, c, t = x.shape
        length = max(2, round(t * float(_uniform(1, *self.crop_range, g))))
        if length >= t:
            return x
        start = torch.randint(0, t - length + 1, (b, 1), generator=g)
        index = (start + torch.arange(length)).to(x.device).unsqueeze(1).expand(b, c, length)
        return F.interpolate(x.gather(2, index), size=t, mode="linear", align_corners=True)


AUGMENTATIONS.add("image", ImageAugment)
AUGMENTATIONS.add("sequence", SequenceAugment)
AUGMENTATIONS.add("none", lambda: (lambda x, g: x), description="No augmentation: both views are the input.")


def build_augment(spec: Any, kind: str, where: str = "augment") -> Augment:
    """An augmentation from a spec; ``"auto"`` takes the default augmentation of the data kind named ``kind``
    (:attr:`~deepfeat.data.kinds.DataKind.augment`: image, sequence, audio or table)."""
    if spec == "auto" or spec is None:
        spec = kind_named(kind, where).augment
        if spec is None:
            raise ConfigError(f"{where}: expected image, sequence, audio or vector data for automatic augmentation, got "
                              f"kind '{kind}'. Set {where}: {{name: ...}} explicitly (image, sequence, audio, table or none).")
    return AUGMENTATIONS.build(spec, where=where)
