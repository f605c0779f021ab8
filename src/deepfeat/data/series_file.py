"""One long series from a file, with optional 0/1 labels per time point: what ``deepfeat score`` reads for a run
trained on windows.

Layouts (read without pickle):

- ``.npy``: the series, ``(T,)`` or ``(C, T)``.
- ``.npz``: ``x`` the series ``(T,)`` or ``(C, T)``, optional ``y`` the point labels ``(T,)``.
- ``.csv``: one row per time point, one column per channel; a column named ``label`` or ``is_anomaly`` holds the
  point labels and a ``timestamp`` column is skipped (so the TimeEval layout that aeon's anomaly series use reads
  as it is).
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from deepfeat.data.files import is_number, load_npy
from deepfeat.errors import ConfigError, DataError

LABEL_COLUMNS = ("label", "is_anomaly")
SKIPPED_COLUMNS = ("timestamp",)


def read_series(path: str | Path, channels: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The series ``(C, T)`` float64 and its point labels ``(T,)`` int64 (or None) in ``path``, checked: ``C`` equals
    ``channels`` (when given), every value finite, labels 0/1 and one per point."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"series file {path}: not found. Pass a .npy, .npz or .csv file holding one series.")
    readers = {".npy": _read_npy, ".npz": _read_npz, ".csv": _read_csv}
    if path.suffix.lower() not in readers:
        raise ConfigError(f"series file {path}: expected a .npy, .npz or .csv file, got suffix {path.suffix!r}")
    x, y = readers[path.suffix.lower()](path)
    x = _check_values(_as_channels(x, channels, path), path)
    return x, None if y is None else _check_labels(y, x.shape[1], path)


def _read_npy(path: Path) -> tuple[np.ndarray, None]:
    return load_npy(path), None


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    if not zipfile.is_zipfile(path):
        raise DataError(f"series file {path}: expected a NumPy .npz archive (numpy.savez), got an unreadable file. "
                        "Write the file again.")
    with np.load(path, allow_pickle=False) as archive:
        if "x" not in archive:
            raise DataError(f"series file {path}: expected an array named 'x' (the series) and optionally 'y' (point "
                            f"labels), got {', '.join(archive.files) or 'no arrays'}. Save with numpy.savez(f, x=..., y=...).")
        return archive["x"], archive.get("y")


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    with open(path, newline="") as f:
        rows = [[cell.strip() for cell in row] for row in csv.reader(f) if row]
    header = rows.pop(0) if rows and not all(is_number(c) for c in rows[0]) else None
    if not rows or any(len(r) != len(rows[0]) for r in rows) or (header and len(header) != len(rows[0])):
        raise DataError(f"series file {path}: expected a table with one row per time point and the same number of "
                        "columns in every row, got an empty or ragged file. Check the file.")
    names = header or [str(i) for i in range(len(rows[0]))]
    label = next((names.index(n) for n in LABEL_COLUMNS if n in names), None)
    values = [i for i, n in enumerate(names) if i != label and n not in SKIPPED_COLUMNS]
    table = np.array(rows, dtype=str)
    try:
        x = table[:, values].astype(np.float64).T
    except ValueError:
        i, j = np.argwhere(~np.vectorize(is_number)(table[:, values]))[0]
        raise DataError(f"series file {path}: expected numbers in every channel column, got {str(table[i, values[j]])!r} "
                        f"in column '{names[values[j]]}' (data row {i + 1}). Fill missing values, or name the label "
                        f"column {' or '.join(LABEL_COLUMNS)}.") from None
    return x, None if label is None else table[:, label]


def _as_channels(x: np.ndarray, channels: int | None, path: Path) -> np.ndarray:
    """``x`` as ``(C, T)``; a 1-D series is one channel."""
    x = x[None, :] if x.ndim == 1 else x
    if x.ndim != 2 and channels is None:
        raise DataError(f"series file {path}: expected one series of shape (T,) or (C, T), got shape {tuple(x.shape)}")
    if x.ndim != 2 or (channels is not None and x.shape[0] != channels):
        layout = "(T,) or (1, T)" if channels == 1 else f"({channels}, T)"
        raise DataError(f"series file {path}: expected {channels} channel{'s' * (channels > 1)} (shape {layout}, the "
                        f"channels the run was trained on), got shape {tuple(x.shape)}. Pass the series with the "
                        "training channels (a .csv has one column per channel).")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"series file {path}: expected numbers, got dtype {x.dtype}")
    return x.astype(np.float64)


def _check_values(x: np.ndarray, path: Path) -> np.ndarray:
    bad = ~np.isfinite(x).all(axis=0)
    if bad.any():
        raise DataError(f"series file {path}: expected finite numbers, got NaN or inf at {int(bad.sum())} time points "
                        f"(first at t={int(np.argmax(bad))}). Impute or cut those points first.")
    return x


def _check_labels(y: np.ndarray, n_points: int, path: Path) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    if len(y) != n_points:
        raise DataError(f"point labels in {path}: expected one per time point ({n_points}), got {len(y)}")
    try:
        values = y.astype(np.float64)
    except ValueError:
        values = np.full(len(y), np.nan)
    if not np.isin(values, (0, 1)).all():
        raise DataError(f"point labels in {path}: expected 0 (normal) or 1 (anomaly) per time point, got values such "
                        f"as {', '.join(map(str, np.unique(y)[:3]))}. Encode the labels as 0/1.")
    return values.astype(np.int64)
