"""Sliding windows over a long series, and the ``series_windows`` dataset (anomaly detection on windows).

A series ``(C, T)`` becomes windows ``(N, C, length)`` starting every ``stride`` steps; one more window is
aligned to the end when the stride does not land there, so every time point is covered. Scores of windows map
back to time points with :func:`deepfeat.eval.windows.points_from_windows`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepfeat.data.bundle import LoadOptions, make_bundle
from deepfeat.data.datasets import importable, register_dataset
from deepfeat.data.splits import DataBundle
from deepfeat.errors import ConfigError, DataError


def window_starts(n_points: int, length: int, stride: int) -> np.ndarray:
    """Start indices of windows of ``length`` every ``stride`` steps over ``n_points``, the last one ending at
    the last point: (N,) int64."""
    if length < 1 or stride < 1:
        raise ConfigError(f"windows: expected length >= 1 and stride >= 1, got length {length}, stride {stride}")
    if n_points < length:
        raise DataError(f"windows: expected a series of at least length={length} points, got {n_points}. "
                        "Use a shorter window length.")
    starts = np.arange(0, n_points - length + 1, stride, dtype=np.int64)
    return starts if starts[-1] == n_points - length else np.append(starts, n_points - length)


def sliding_windows(series: Any, length: int, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Windows ``(N, C, length)`` of a series ``(T,)`` or ``(C, T)``, and their start indices ``(N,)``."""
    x = np.asarray(series, dtype=np.float32)
    x = x[None, :] if x.ndim == 1 else x
    if x.ndim != 2:
        raise DataError(f"windows: expected a series of shape (T,) or (C, T), got {x.shape}")
    starts = window_starts(x.shape[1], length, stride)
    view = np.lib.stride_tricks.sliding_window_view(x, length, axis=1)  # (C, T - length + 1, length)
    return np.ascontiguousarray(view[:, starts].transpose(1, 0, 2)), starts


def window_labels(point_labels: Any, starts: np.ndarray, length: int) -> np.ndarray:
    """1 for a window holding at least one anomalous point, else 0: (N,) int64."""
    y = np.asarray(point_labels).astype(bool)
    covered = np.lib.stride_tricks.sliding_window_view(y, length)[starts]
    return covered.any(axis=1).astype(np.int64)


def _aeon_anomaly(series: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(points (T,), 0/1 labels (T,)) of a labelled anomaly series aeon ships with a normal training part."""
    import aeon.datasets as ad

    loaders = {"KDD-TSAD_135": ad.load_kdd_tsad_135}
    if series not in loaders:
        raise ConfigError(f"series_windows.series: expected one of {', '.join(loaders)} (anomaly series shipped "
                          f"with aeon with a normal training part), got {series!r}. For your own series, cut "
                          "windows with deepfeat.data.windows.sliding_windows and save them as .npz (arrays).")
    x, y = loaders[series](split=split)
    return np.asarray(x, dtype=np.float64), np.asarray(y)


@register_dataset("series_windows", available=importable("aeon"))
def series_windows(series: str = "KDD-TSAD_135", length: int = 64, stride: int = 4, test_stride: int | None = None,
                   *, options: LoadOptions = LoadOptions()) -> DataBundle:
    """Windows of an anomaly-detection series shipped with aeon: train on windows of its normal training part,
    test on windows of its test part labelled ``anomaly`` when they hold an anomalous point.

    ``KDD-TSAD_135`` (UCR anomaly archive, InternalBleeding16): 1200 normal training points, 7501 test points with
    one anomaly (points 4187-4198). Windows are (1, length); ``test_stride`` defaults to ``stride``.
    """
    train_x, _ = _aeon_anomaly(series, "train")
    test_x, test_y = _aeon_anomaly(series, "test")
    windows, _ = sliding_windows(train_x, length, stride)
    test_windows, starts = sliding_windows(test_x, length, test_stride or stride)
    bundle = make_bundle(windows, np.zeros(len(windows), dtype=np.int64), "sequence", f"series_windows/{series}",
                         class_names=["normal", "anomaly"], x_test=test_windows,
                         y_test=window_labels(test_y, starts, length), **options.kwargs())
    bundle.info.windows = {"length": length, "stride": test_stride or stride}  # how `deepfeat score` cuts new series
    return bundle
