"""Audio encoders: waveform ``(B, C, T)`` -> [augment] -> front-end -> [SpecAugment] -> norm -> any encoder.

``audio`` composes a front-end (:mod:`deepfeat.nn.audio_frontend`: ``log_mel``, ``mfcc``, ``waveform``)
with any registered encoder as the backbone, fed ``(F, frames)`` as a sequence or, with ``image: true``,
``(1, F, frames)`` as an image. A batch norm over the F feature bins standardizes the front-end's
output (learned, saved with the model). The presets are the usual speech models:

- ``audio_cnn``: a 2-D CNN over the log-mel "image";
- ``audio_tcn``: a temporal convolutional network over the mel frames (mels as channels);
- ``audio_gru``: a bidirectional GRU over the mel frames;
- ``wave_cnn`` (in :mod:`deepfeat.nn.wave_cnn`) learns from the raw waveform with no front-end.

The whole chain is one module, so ``deepfeat export`` writes a model that takes waveforms.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.nn.audio_augment import SpecAugment, WaveAugment
from deepfeat.nn.audio_frontend import FRONTENDS
from deepfeat.nn.encoder import ENCODERS, Encoder, build_encoder


def _maybe(cls: type[nn.Module], spec: Any, where: str) -> nn.Module:
    """``cls(**spec)`` for a mapping, ``cls()`` for ``True``, nothing for ``None`` / ``False``."""
    if spec is None or spec is False:
        return nn.Identity()
    if spec is True:
        return cls()
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected a mapping of settings, true or null, got {spec!r}")
    try:
        return cls(**spec)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


class AudioEncoder(Encoder):
    """Waveforms ``(B, C, T)`` -> ``(B, feature_dim)`` through a front-end and a backbone encoder.

    Args:
        sample_rate: the rate of the waveforms (set it to the dataset's ``sample_rate``).
        frontend: ``{name: log_mel | mfcc | waveform, ...}`` (``deepfeat.nn.audio_frontend``).
        backbone: any encoder spec; it is built for ``(F, frames)`` or, with ``image``, ``(1, F, frames)``.
        augment: waveform augmentation in training (``{shift, gain_db, snr_db, noise_p}``), or null.
        spec_augment: SpecAugment masks in training (``{freq_masks, freq_width, time_masks, time_width}``), or null.
        norm: standardize the front-end's F bins with a batch norm (off for the raw waveform).
    """

    name = "audio"

    def __init__(self, input_shape: Sequence[int], sample_rate: int = 8000, frontend: Any = "log_mel",
                 backbone: Any = "tcn", image: bool = False, augment: Any = None, spec_augment: Any = None,
                 norm: bool = True) -> None:
        super().__init__()
        self._setup(input_shape, "(C, T)", sample_rate=sample_rate, frontend=frontend, backbone=backbone,
                    image=bool(image), augment=augment, spec_augment=spec_augment, norm=bool(norm))
        self.augment = _maybe(WaveAugment, augment, "encoder.augment")
        self.frontend = FRONTENDS.build(frontend, sample_rate, where="encoder.frontend")
        self.spec_augment = _maybe(SpecAugment, spec_augment, "encoder.spec_augment")
        bins, frames = self.frontend.out_channels, self.frontend.frames(self.input_shape[-1])
        self.norm = nn.BatchNorm1d(bins) if norm else nn.Identity()
        self.image = bool(image)
        shape = (1, bins, frames) if self.image else (bins, frames)
        self.backbone = build_encoder(backbone, shape, where="encoder.backbone")
        self.feature_dim = int(self.backbone.feature_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The standardized front-end output ``(B, F, frames)`` (augmented in training mode)."""
        self.check_input(x)
        spec = self.spec_augment(self.frontend(self.augment(x)))
        return self.norm(spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = self.features(x)
        return self.backbone(spec.unsqueeze(1) if self.image else spec)


def _preset(description: str, **defaults: Any) -> Any:
    factory = functools.partial(AudioEncoder, **defaults)
    factory.__doc__ = description
    return factory


ENCODERS.add("audio", AudioEncoder)
ENCODERS.add("audio_cnn", _preset(
    "2-D CNN over a 64-bin log-mel spectrogram (channels 32-64-128, batch norm, max pool), SpecAugment in training.",
    frontend={"name": "log_mel", "n_mels": 64}, image=True, backbone={"name": "cnn", "channels": [32, 64, 128]},
    spec_augment={"freq_masks": 2, "freq_width": 8, "time_masks": 2, "time_width": 10}),
    description="2-D CNN over the log-mel spectrogram of a waveform (1, T); SpecAugment in training.")
ENCODERS.add("audio_tcn", _preset(
    "TCN (4 blocks of 64, kernel 5, dilations 1-8) over 64 mel frames (mels as channels), SpecAugment in training.",
    frontend={"name": "log_mel", "n_mels": 64},
    backbone={"name": "tcn", "channels": [64, 64, 64, 64], "kernel_size": 5, "norm": "batch"},
    spec_augment={"freq_masks": 2, "freq_width": 8, "time_masks": 2, "time_width": 10}),
    description="Temporal conv net over the mel frames of a waveform (1, T); SpecAugment in training.")
ENCODERS.add("audio_gru", _preset(
    "Bidirectional GRU over 40 mel frames, mean-pooled, SpecAugment in training.",
    frontend={"name": "log_mel", "n_mels": 40},
    backbone={"name": "rnn", "cell": "gru", "hidden_size": 64, "bidirectional": True, "pooling": "mean"},
    spec_augment={"freq_masks": 2, "freq_width": 6, "time_masks": 2, "time_width": 10}),
    description="Bidirectional GRU over the mel frames of a waveform (1, T); SpecAugment in training.")
