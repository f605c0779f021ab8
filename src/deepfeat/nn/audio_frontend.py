"""Audio front-ends: waveform ``(B, C, T)`` -> time-frequency features ``(B, F, frames)``, as model layers.

They run batched on the training device and are saved with the model, so an exported model takes raw
waveforms and its JSON config rebuilds the front-end. The short-time Fourier transform is
``torch.stft``; the mel filterbank (``torchaudio.functional.melscale_fbanks``, Slaney scale and
norm as librosa's default) and the DCT-II matrix (``torchaudio.functional.create_dct``) come from
torchaudio when the layer is built and are kept as non-persistent buffers (rebuilt, never stored).
The transform always runs in float32: under bf16 autocast the power spectrum of quiet frames would
underflow before the log.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.checks import check_positive_int
from deepfeat.extras import load
from deepfeat.registry import Registry

FRONTENDS: Registry[nn.Module] = Registry("frontend", takes=1)


def _torchaudio_functional() -> Any:
    return load("torchaudio.functional", "audio", "audio front-end")


CMVN = ("none", "mean", "meanvar")


def utterance_norm(logmel: torch.Tensor, voiced: torch.Tensor, how: str) -> torch.Tensor:
    """Cepstral mean (and variance) normalization per clip: each bin centred (and scaled) by its mean
    (and std) over the clip's own frames, ``(B, F, frames)``. It removes a clip's fixed channel and
    speaker colouring (a constant offset in the log domain), the classic remedy for voices and
    microphones a model never heard. Statistics skip the frames of digital silence (``voiced`` False:
    the zero padding of short clips), so a clip's padding does not shift its statistics, and those
    frames are set to 0 (otherwise their normalized value would carry the clip's level).
    """
    if how == "none":
        return logmel
    w = voiced.unsqueeze(1).to(logmel)  # (B, 1, frames)
    count = w.sum(dim=2, keepdim=True).clamp(min=1.0)
    mean = (logmel * w).sum(dim=2, keepdim=True) / count
    centred = (logmel - mean) * w  # padding frames -> 0, the same in every clip whatever its level
    if how == "mean":
        return centred
    std = (centred.pow(2).sum(dim=2, keepdim=True) / count).sqrt().clamp(min=1e-3)
    return centred / std


class LogMel(nn.Module):
    """Log mel spectrogram: ``(B, C, T)`` (channels averaged) -> ``(B, n_mels, 1 + T // hop_length)``.

    ``log(mel power + eps)``; windows in milliseconds so one config serves any sample rate.
    ``cmvn``: ``none``, ``mean`` or ``meanvar`` normalization per clip (:func:`utterance_norm`).
    """

    def __init__(self, sample_rate: int, n_mels: int = 64, win_ms: float = 25.0, hop_ms: float = 10.0,
                 n_fft: int | None = None, f_min: float = 20.0, f_max: float | None = None, eps: float = 1e-6,
                 cmvn: str = "none") -> None:
        super().__init__()
        if cmvn not in CMVN:
            raise ConfigError(f"front-end cmvn: expected one of {', '.join(CMVN)}, got {cmvn!r}")
        self.cmvn = cmvn
        self.sample_rate = check_positive_int(sample_rate, "front-end sample_rate")
        self.n_mels = check_positive_int(n_mels, "front-end n_mels")
        self.win_length = max(2, round(sample_rate * win_ms / 1000))
        self.hop_length = max(1, round(sample_rate * hop_ms / 1000))
        self.n_fft = n_fft or 1 << (self.win_length - 1).bit_length()  # next power of two
        if self.n_fft < self.win_length:
            raise ConfigError(f"front-end n_fft: expected >= the window ({self.win_length} samples), got {n_fft}")
        f_max = sample_rate / 2 if f_max is None else float(f_max)
        if not 0 <= f_min < f_max <= sample_rate / 2:
            raise ConfigError(f"front-end f_min/f_max: expected 0 <= f_min < f_max <= {sample_rate / 2} (Nyquist), "
                              f"got {f_min}, {f_max}")
        fb = _torchaudio_functional().melscale_fbanks(self.n_fft // 2 + 1, float(f_min), f_max, self.n_mels,
                                                      self.sample_rate, norm="slaney", mel_scale="slaney")
        self.register_buffer("fbank", fb, persistent=False)  # (n_fft // 2 + 1, n_mels)
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)
        self.eps = float(eps)
        self.out_channels = self.n_mels

    def frames(self, length: int) -> int:
        """Frames of a clip of ``length`` samples (``center=True`` framing)."""
        return 1 + length // self.hop_length

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = wave.float().mean(dim=1)  # (B, T) mono
        with torch.autocast(x.device.type, enabled=False):
            spec = torch.stft(x, self.n_fft, self.hop_length, self.win_length, self.window,
                              center=True, return_complex=True).abs().pow(2)  # (B, n_fft // 2 + 1, frames)
            mel = torch.matmul(spec.transpose(1, 2), self.fbank).transpose(1, 2)  # (B, n_mels, frames)
            return utterance_norm(torch.log(mel + self.eps), mel.sum(dim=1) > 0, self.cmvn)


class MFCC(nn.Module):
    """MFCCs (Davis & Mermelstein 1980): DCT-II of the log mel spectrogram, ``(B, n_mfcc[*3], frames)``.

    With ``deltas`` the first and second time derivatives (``torchaudio.functional.compute_deltas``)
    are stacked after the coefficients.
    """

    def __init__(self, sample_rate: int, n_mfcc: int = 20, n_mels: int = 64, deltas: bool = False,
                 **log_mel: Any) -> None:
        super().__init__()
        self.log_mel = LogMel(sample_rate, n_mels=n_mels, **log_mel)
        n_mfcc = check_positive_int(n_mfcc, "front-end n_mfcc")
        if n_mfcc > n_mels:
            raise ConfigError(f"front-end n_mfcc: expected at most n_mels ({n_mels}), got {n_mfcc}")
        self.register_buffer("dct", _torchaudio_functional().create_dct(n_mfcc, n_mels, "ortho"), persistent=False)
        self.deltas = bool(deltas)
        self.out_channels = n_mfcc * (3 if self.deltas else 1)
        self.frames = self.log_mel.frames

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        logmel = self.log_mel(wave)
        with torch.autocast(logmel.device.type, enabled=False):
            c = torch.matmul(logmel.transpose(1, 2), self.dct).transpose(1, 2)  # (B, n_mfcc, frames)
            if not self.deltas:
                return c
            d1 = _torchaudio_functional().compute_deltas(c)
            return torch.cat([c, d1, _torchaudio_functional().compute_deltas(d1)], dim=1)


class Waveform(nn.Module):
    """No transform: the waveform itself, ``(B, C, T) -> (B, C, T)``, for raw-waveform encoders."""

    def __init__(self, sample_rate: int, channels: int = 1) -> None:
        super().__init__()
        self.out_channels = channels

    def frames(self, length: int) -> int:
        return length

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return wave


FRONTENDS.add("log_mel", LogMel, aliases=("logmel", "mel"))
FRONTENDS.add("mfcc", MFCC)
FRONTENDS.add("waveform", Waveform, aliases=("none", "raw"))
