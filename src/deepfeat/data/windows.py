"""Sliding windows over a long series, and the ``series_windows`` dataset (anomaly detection on windows).

A series ``(C, T)`` becomes windows ``(N, C, length)`` starting every ``stride`` steps; one more window is
aligned to the end when the stride does not land there, so every time point is covered. Scores of windows map
back to time points with :func:`deepfeat.eval.windows.points_from_windows`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from deepfeat.data.bundle import LoadOptions, make_bundle
from deepfeat.data.datasets import importable, register_dataset
from deepfeat.data.splits import DataBundle
from deepfeat.errors import ConfigError, DataError
from deepfeat.extras import load


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


def _kdd_tsad_135(split: str) -> tuple[np.ndarray, np.ndarray]:
    return load("aeon.datasets", "timeseries", "dataset 'series_windows'").load_kdd_tsad_135(split=split)


def _ecg_diff_count_3(split: str) -> tuple[np.ndarray, np.ndarray]:
    ad = load("aeon.datasets", "timeseries", "dataset 'series_windows'")

    with warnings.catch_warnings():  # deprecated in aeon 1.6 (its files stay until 1.7)
        warnings.simplefilter("ignore", FutureWarning)
        x_test, y_test, x_train, y_train = ad.load_ecg_diff_count_3("semi-supervised")
    return (x_train, y_train) if split == "train" else (x_test, y_test)


# anomaly series aeon ships with a normal training part: name -> split ("train"/"test") -> (points, 0/1 labels)
AEON_SERIES: dict[str, Callable[[str], tuple[np.ndarray, np.ndarray]]] = {
    "KDD-TSAD_135": _kdd_tsad_135, "ecg-diff-count-3": _ecg_diff_count_3}


def _aeon_anomaly(series: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(points (T,), 0/1 labels (T,)) of a labelled anomaly series aeon ships with a normal training part."""
    if series not in AEON_SERIES:
        raise ConfigError(f"series_windows.series: expected one of {', '.join(AEON_SERIES)} (anomaly series shipped "
                          f"with aeon with a normal training part), got {series!r}. For your own series, set path "
                          "(and test_path) to series files (.npy/.npz/.csv, see deepfeat.data.series_file).")
    x, y = AEON_SERIES[series](split)
    return np.asarray(x, dtype=np.float64), np.asarray(y)


def _parts(series: str, path: str | None, test_path: str | None) -> tuple[Any, Any, Any, Any]:
    """(train series, its labels or None, test series or None, its labels or None)."""
    if path is None:
        return (*_aeon_anomaly(series, "train"), *_aeon_anomaly(series, "test"))
    from deepfeat.data.series_file import read_series

    train_x, train_y = read_series(path)
    test_x, test_y = read_series(test_path, channels=len(train_x)) if test_path else (None, None)
    return train_x, train_y, test_x, test_y


@register_dataset("series_windows", available=importable("aeon"))
def series_windows(series: str = "KDD-TSAD_135", length: int = 64, stride: int = 4, test_stride: int | None = None,
                   path: str | None = None, test_path: str | None = None,
                   *, options: LoadOptions = LoadOptions()) -> DataBundle:
    """Windows of a long series for anomaly detection: train on windows of a normal training series, test on
    windows of a test series labelled ``anomaly`` when they hold an anomalous point.

    The series: one aeon ships with a normal training part (``series``: ``KDD-TSAD_135``, UCR anomaly archive
    InternalBleeding16, 1200 normal training points, 7501 test points with one anomaly at points 4187-4198;
    ``ecg-diff-count-3``, TimeEval, 10000 + 10000 points, three anomalies of 100 points), or your own files
    (``path``, optional ``test_path``: see :mod:`deepfeat.data.series_file`; windows of ``path`` holding a point
    labelled 1 are left out of training; without ``test_path`` the test split is drawn from the training windows).
    Windows are (C, length); ``test_stride`` (default ``stride``) is also the stride ``deepfeat score`` uses.
    """
    train_x, train_y, test_x, test_y = _parts(series, path, test_path)
    windows, starts = sliding_windows(train_x, length, stride)
    if train_y is not None:
        windows = windows[window_labels(train_y, starts, length) == 0]
    test = {}
    if test_x is not None:
        test_windows, test_starts = sliding_windows(test_x, length, test_stride or stride)
        labels = np.zeros(len(test_windows), np.int64) if test_y is None else window_labels(test_y, test_starts, length)
        test = {"x_test": test_windows, "y_test": labels}
    name = f"series_windows/{path or series}"
    bundle = make_bundle(windows, np.zeros(len(windows), dtype=np.int64), "sequence", name,
                         class_names=["normal", "anomaly"], **test, **options.kwargs())
    bundle.info.windows = {"length": length, "stride": test_stride or stride}  # how `deepfeat score` cuts new series
    return bundle
