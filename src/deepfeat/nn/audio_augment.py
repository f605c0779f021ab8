"""Audio augmentations as layers that act only in training mode: waveform shift/gain/noise, and SpecAugment.

Inside an audio encoder they make every learner (classifier, autoencoder, SimCLR, ...) train on
augmented audio with no change to the learner, and they are inert in ``eval()``: embedding, export
and evaluation see clean inputs, as in NeMo's or ESPnet's speech pipelines. Their randomness comes
from the global torch generator (seeded by the trainer and restored on resume).
:class:`WaveAugment` also runs as a plain ``(x, generator) -> x`` transform, which is how SimCLR uses
it (``augment: {name: audio}``, registered in :mod:`deepfeat.data.audio_augment`).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.extras import load


def _pair(value: Any, where: str, low: float, high: float) -> tuple[float, float]:
    pair = (value, value) if isinstance(value, (int, float)) and not isinstance(value, bool) else tuple(value)
    if len(pair) != 2 or not low <= float(pair[0]) <= float(pair[1]) <= high:
        raise ConfigError(f"{where}: expected (min, max) with {low} <= min <= max <= {high}, got {value!r}")
    return float(pair[0]), float(pair[1])


def _uniform(n: int, low: float, high: float, g: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g)


class WaveAugment(nn.Module):
    """Random time shift, gain and additive white noise at a signal-to-noise ratio: ``(B, C, T) -> (B, C, T)``.

    ``shift``: largest shift as a fraction of the clip (zeros fill in); ``gain_db``: gain drawn from
    [-gain_db, gain_db] dB; ``snr_db``: (min, max) SNR in dB of the noise added to a ``noise_p`` share
    of the batch (signal power measured per clip); ``speed``: (min, max) speed factor, Kaldi's speed
    perturbation (Ko et al. 2015: resampling, so tempo and pitch change together, like a shorter or
    longer vocal tract), each clip at one of 5 factors evenly spaced in the range; (1, 1) is off.
    """

    def __init__(self, shift: float = 0.1, gain_db: float = 6.0, snr_db: Sequence[float] = (10.0, 40.0),
                 noise_p: float = 0.5, speed: Any = (1.0, 1.0)) -> None:
        super().__init__()
        low, high = _pair(speed, "augment.speed", 0.5, 2.0)
        self.speeds = sorted({round(f, 3) for f in torch.linspace(low, high, 5).tolist()})
        self.shift = _pair((0.0, shift), "augment.shift", 0.0, 1.0)[1]
        self.gain_db = _pair((0.0, gain_db), "augment.gain_db", 0.0, 60.0)[1]
        self.snr_db = _pair(snr_db, "augment.snr_db", -20.0, 100.0)
        self.noise_p = _pair((0.0, noise_p), "augment.noise_p", 0.0, 1.0)[1]

    def forward(self, x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
        if g is None:
            if not self.training:
                return x
            g = torch.Generator().manual_seed(int(torch.randint(2**62, ())))
        return self.noise(self.gain(self.time_shift(self.speed(x, g), g), g), g)

    def speed(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Each clip played ``f`` times faster (``torchaudio.functional.resample`` from ``f * 1000`` to
        1000 Hz), then cut or zero-padded at the end back to ``T`` samples."""
        if self.speeds == [1.0]:
            return x
        resample = load("torchaudio.functional", "audio", "speed augmentation").resample

        b, _, t = x.shape
        pick = torch.randint(len(self.speeds), (b,), generator=g)
        out = x.clone()
        for i, factor in enumerate(self.speeds):
            rows = (pick == i).nonzero().flatten().to(x.device)
            if factor == 1.0 or rows.numel() == 0:
                continue
            moved = resample(x[rows].float(), round(factor * 1000), 1000)[..., :t].to(x.dtype)
            out[rows] = torch.nn.functional.pad(moved, (0, t - moved.shape[-1]))
        return out

    def time_shift(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Each clip moved by up to ``shift * T`` samples either way; what moves out is dropped, zeros move in."""
        b, _, t = x.shape
        most = int(self.shift * t)
        if most == 0:
            return x
        offsets = torch.randint(-most, most + 1, (b, 1), generator=g)
        source = (torch.arange(t).view(1, t) - offsets).to(x.device)  # (B, T): where each output sample comes from
        valid = (source >= 0) & (source < t)
        moved = x.gather(2, source.clamp(0, t - 1).unsqueeze(1).expand_as(x))
        return moved * valid.unsqueeze(1).to(x.dtype)

    def gain(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if self.gain_db == 0:
            return x
        db = _uniform(x.shape[0], -self.gain_db, self.gain_db, g)
        return x * (10 ** (db / 20)).view(-1, 1, 1).to(x)

    def noise(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if self.noise_p == 0:
            return x
        b = x.shape[0]
        snr = _uniform(b, *self.snr_db, g).to(x)
        on = (torch.rand(b, generator=g) < self.noise_p).to(x)
        power = x.float().pow(2).mean(dim=(1, 2)).clamp(min=1e-10).to(x)
        scale = (power / 10 ** (snr / 10)).sqrt() * on
        return x + scale.view(b, 1, 1) * torch.randn(x.shape, generator=g).to(x)


class SpecAugment(nn.Module):
    """SpecAugment's masks (Park et al. 2019): ``freq_masks`` bands of up to ``freq_width`` bins and
    ``time_masks`` spans of up to ``time_width`` frames set to the clip's mean, per clip; ``(B, F, frames)``.

    The masks are drawn by ``torchaudio.functional.mask_along_axis_iid``; inert in ``eval()``.
    """

    def __init__(self, freq_masks: int = 2, freq_width: int = 8, time_masks: int = 2, time_width: int = 10) -> None:
        super().__init__()
        for key, value in (("freq_masks", freq_masks), ("freq_width", freq_width), ("time_masks", time_masks),
                           ("time_width", time_width)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"spec_augment.{key}: expected an integer >= 0, got {value!r}")
        self.freq_masks, self.freq_width, self.time_masks, self.time_width = freq_masks, freq_width, time_masks, time_width

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return spec
        mask_along_axis_iid = load("torchaudio.functional", "audio", "SpecAugment").mask_along_axis_iid

        fill = spec.mean(dim=(1, 2), keepdim=True)
        x = (spec - fill).unsqueeze(1)  # (B, 1, F, frames): masking with 0 then fills with the clip mean
        for count, width, axis in ((self.freq_masks, self.freq_width, 2), (self.time_masks, self.time_width, 3)):
            for _ in range(count if width > 0 else 0):
                x = mask_along_axis_iid(x, width, 0.0, axis)
        return x.squeeze(1) + fill
