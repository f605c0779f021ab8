"""Input checks for arrays handed to deepfeat: each failure says what, where, what was got and how to fix.

The checks run before any tensor is built, so a bad CSV or a NaN in a user's array fails with one
clear :class:`DataError` instead of a shape error deep inside a model (scikit-learn's
``check_array`` idea).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from deepfeat.data.info import Kind
from deepfeat.data.kinds import array_kind
from deepfeat.errors import DataError

ArrayLike = np.ndarray | torch.Tensor

# The kind an array without a given kind is taken to hold, by its number of dimensions (samples first).
_KIND_BY_NDIM: dict[int, Kind] = {2: "vector", 3: "sequence", 4: "image"}


def as_numpy(a: Any) -> np.ndarray:
    """A numpy view of a tensor, array or nested list (no copy when possible)."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu()
        # numpy has no bfloat16; float32 holds every bfloat16 value exactly.
        return (a.float() if a.dtype == torch.bfloat16 else a).numpy()
    return np.asarray(a)


def as_array(a: Any, where: str) -> ArrayLike:
    """A tensor unchanged, anything else (a list of samples, say) as an array; :class:`DataError` when the
    samples have different shapes, as numpy would only say "inhomogeneous shape"."""
    if isinstance(a, torch.Tensor):
        return a
    try:
        return np.asarray(a)
    except ValueError:
        shapes = [tuple(np.shape(item)) if _has_shape(item) else "ragged" for item in a]
        first = next((i for i, shape in enumerate(shapes) if shape != shapes[0]), 1)
        raise DataError(
            f"input shape at {where}: expected samples of one shape, got sample 0 of shape {shapes[0]} and sample "
            f"{first} of shape {shapes[first]} ({len(set(shapes))} shapes among {len(shapes)} samples). Pad, crop or "
            "resize the samples to one shape, or pass a torch Dataset of equal-shaped samples."
        ) from None


def _has_shape(item: Any) -> bool:
    try:
        np.shape(item)
    except ValueError:  # itself ragged
        return False
    return True


def infer_kind(ndim: int, where: str) -> Kind:
    """The kind of data a dataset with ``ndim`` dimensions holds: 2 vector, 3 sequence, 4 image."""
    if ndim not in _KIND_BY_NDIM:
        raise DataError(
            f"input shape at {where}: expected 2 (N, F), 3 (N, C, T) or 4 (N, C, H, W) dimensions, "
            f"got {ndim}. Reshape the array (a single feature is x.reshape(-1, 1)) or pass kind."
        )
    return _KIND_BY_NDIM[ndim]


def check_arrays(
    x: ArrayLike,
    y: ArrayLike | None = None,
    where: str = "data",
    *,
    kind: str | None = None,
    num_classes: int | None = None,
) -> None:
    """Raise :class:`DataError` unless ``x`` (N, ...) and labels ``y`` (N,) are usable as given."""
    xa = as_numpy(x)
    _check_features(xa, where, kind)
    if y is None:
        return
    ya = as_numpy(y)
    if ya.ndim != 1:
        raise DataError(
            f"labels at {where}.y: expected a 1-D array (N,), got shape {tuple(ya.shape)}. "
            "Pass one integer class label per sample (for one-hot labels, y.argmax(1))."
        )
    if len(ya) != len(xa):
        raise DataError(
            f"labels at {where}.y: expected {len(xa)} labels (one per sample of x), got {len(ya)}. "
            "Make x and y the same length."
        )
    check_labels(ya, f"{where}.y", num_classes)


def is_real(dtype: np.dtype) -> bool:
    """Whether arrays of ``dtype`` hold features a model takes: real numbers or booleans (not text, objects, complex)."""
    return bool(np.issubdtype(dtype, np.number) and not np.issubdtype(dtype, np.complexfloating)) or dtype == np.bool_


def _check_features(xa: np.ndarray, where: str, kind: str | None) -> None:
    if xa.ndim == 0 or xa.shape[0] == 0:
        raise DataError(
            f"input at {where}.x: expected at least one sample, got an empty array of shape "
            f"{tuple(xa.shape)}. Check the file or the filter that produced it."
        )
    if not is_real(xa.dtype):
        raise DataError(
            f"input dtype at {where}.x: expected real numbers, got dtype {xa.dtype}. "
            "Convert the features to numbers (encode text or categories first)."
        )
    if kind is not None:
        spec = array_kind(kind, where)
        if xa.ndim != spec.ndim:
            raise DataError(
                f"input shape at {where}.x: expected {spec.ndim} dimensions {spec.layout} for "
                f"kind '{kind}', got shape {tuple(xa.shape)}. Reshape the array or pass the right kind."
            )
    if np.issubdtype(xa.dtype, np.floating):
        bad = ~np.isfinite(xa.reshape(len(xa), -1))
        count = int(bad.sum())
        if count:
            first = int(np.argmax(bad.any(axis=1)))
            raise DataError(
                f"input values at {where}.x: expected finite numbers, got {count} NaN or inf values "
                f"(first in sample {first}). Impute or drop those samples first."
            )


def check_labels(ya: np.ndarray, where: str, num_classes: int | None = None) -> None:
    """Raise :class:`DataError` unless ``ya`` (N,) holds integer class labels (in ``0..num_classes-1``)."""
    if np.issubdtype(ya.dtype, np.floating):
        # NaN and inf become 0.5 so one comparison flags them together with fractional values.
        clean = np.nan_to_num(ya, nan=0.5, posinf=0.5, neginf=0.5)
        bad = clean != np.round(clean)
        if bad.any():
            first = int(np.argmax(bad))
            raise DataError(
                f"labels at {where}: expected integer class labels, got the value {ya[first]} "
                f"(sample {first}). Labels must be whole numbers; round them or use a regression loss."
            )
    elif not (np.issubdtype(ya.dtype, np.integer) or ya.dtype == np.bool_):
        raise DataError(
            f"labels at {where}: expected integer class labels, got dtype {ya.dtype}. "
            "Encode them as 0..K-1 (e.g. sklearn.preprocessing.LabelEncoder) and pass the names "
            "as class_names."
        )
    if num_classes is None or len(ya) == 0:
        return
    low, high = ya.min(), ya.max()
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        raise DataError(
            f"labels at {where}: expected values in 0..{num_classes - 1} ({num_classes} classes), "
            f"got {bad:g}. Remap the labels to 0..K-1 or give one class name per class."
        )
