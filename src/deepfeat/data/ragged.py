"""Series of different lengths as one (N, C, T) array: padded (with a length mask) or resampled.

``pad``: each channel is standardized with statistics of the *real* training steps, then every series is
padded at the end with exact zeros up to the longest length. A trailing run of all-zero steps is
padding: :func:`deepfeat.nn.masking.valid_mask` recovers it and the time-series encoders
(``inception``, ``fcn``, ``resnet1d``) leave it out of their global average pooling, so a short series
is not averaged with its padding. ``resample``: every series is linearly interpolated to the longest
length (the "uniform scaling" of Tan et al. 2019), which any sequence encoder takes as it is.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from deepfeat.data.kinds.base import MIN_STD
from deepfeat.errors import ConfigError

Unequal = Literal["pad", "resample"]


def is_ragged(x: object) -> bool:
    """Whether ``x`` is a list of (C, T_i) arrays rather than one (N, C, T) array."""
    return not (isinstance(x, np.ndarray) and x.ndim == 3)


def real_stats(series: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over every real step of ``series`` (a list of (C, T_i)): (C,), (C,)."""
    joined = np.concatenate([np.asarray(s, dtype=np.float64) for s in series], axis=1)
    mean, std = joined.mean(axis=1), joined.std(axis=1)
    return mean, np.where(std < MIN_STD, 1.0, std)


def pad_series(series: Sequence[np.ndarray], length: int, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Standardize each (C, T_i) series and zero-pad it at the end to ``length``: (N, C, length) float32.

    Series longer than ``length`` (a test series longer than every training one) are cut to it.
    """
    out = np.zeros((len(series), len(mean), length), dtype=np.float32)
    for i, s in enumerate(series):
        s = (np.asarray(s, dtype=np.float64)[:, :length] - mean[:, None]) / std[:, None]
        out[i, :, : s.shape[1]] = s
    return out


def resample_series(series: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Linearly interpolate each (C, T_i) series to ``length`` steps: (N, C, length) float32."""
    grid = np.linspace(0.0, 1.0, length)
    out = np.empty((len(series), np.asarray(series[0]).shape[0], length), dtype=np.float32)
    for i, s in enumerate(series):
        s = np.asarray(s, dtype=np.float64)
        src = np.linspace(0.0, 1.0, s.shape[1]) if s.shape[1] > 1 else np.zeros(1)
        out[i] = np.stack([np.interp(grid, src, c) for c in s]) if s.shape[1] > 1 else s[:, :1]
    return out


def check_unequal(value: str, where: str) -> Unequal:
    if value not in ("pad", "resample"):
        raise ConfigError(f"unequal at {where}.unequal: expected 'pad' or 'resample', got {value!r}. "
                          "pad: zero-pad with a length mask (inception/fcn/resnet1d pool over real steps only); "
                          "resample: interpolate every series to the longest length.")
    return value  # type: ignore[return-value]
