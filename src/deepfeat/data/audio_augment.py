"""Waveform augmentation for self-supervised views of audio: ``augment: {name: audio, shift, gain_db, snr_db, speed}``.

The transform is :class:`deepfeat.nn.audio_augment.WaveAugment` (speed, time shift, gain, noise at an SNR),
called with the view generator; SpecAugment masks belong to the audio encoder (``spec_augment``),
which applies them to each view in training mode.
"""

from __future__ import annotations

from typing import Any, Sequence

from deepfeat.data.augment import AUGMENTATIONS
from deepfeat.nn.audio_augment import WaveAugment


def audio_augment(shift: float = 0.1, gain_db: float = 6.0, snr_db: Sequence[float] = (10.0, 40.0),
                  noise_p: float = 0.5, speed: Any = (1.0, 1.0)) -> WaveAugment:
    """Random speed (resampling), time shift, gain and additive noise at an SNR for waveforms ``(B, C, T)``
    (seeded per view)."""
    return WaveAugment(shift, gain_db, snr_db, noise_p, speed)


AUGMENTATIONS.add("audio", audio_augment)
