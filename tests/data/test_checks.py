"""Every unusable input gives a DataError that says what, where, what was got and how to fix it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfeat.data import check_arrays, from_arrays
from deepfeat.errors import DataError


def _x(n: int = 6) -> np.ndarray:
    return np.arange(n * 2, dtype=np.float64).reshape(n, 2)


@pytest.mark.parametrize(
    ("x", "y", "kwargs", "expected"),
    [
        (np.zeros((0, 3)), None, {}, r"at train\.x: expected at least one sample, got an empty array"),
        (np.array([["a", "b"], ["c", "d"]]), None, {}, r"expected real numbers, got dtype <U1"),
        (np.ones((3, 2), dtype=complex), None, {}, r"expected real numbers, got dtype complex128"),
        (_x(), np.array([0, 1, 0, 1, 0.5, 1]), {}, r"integer class labels, got the value 0\.5 \(sample 4\)"),
        (_x(), np.array([0, 1, 0, 1, np.nan, 1]), {}, r"integer class labels, got the value nan \(sample 4\)"),
        (_x(), np.array(list("abcabc")), {}, r"got dtype <U1\. Encode them as 0\.\.K-1"),
        (_x(), np.array([0, 1, 2, 3, 0, 1]), {"num_classes": 3}, r"values in 0\.\.2 \(3 classes\), got 3"),
        (_x(), np.array([0, 1, -1, 0, 0, 1]), {"num_classes": 3}, r"values in 0\.\.2 \(3 classes\), got -1"),
        (_x(), np.array([0, 1, 0]), {}, r"train\.y: expected 6 labels \(one per sample of x\), got 3"),
        (_x(), np.zeros((6, 2)), {}, r"expected a 1-D array \(N,\), got shape \(6, 2\)"),
        (_x(), None, {"kind": "image"}, r"4 dimensions \(N, C, H, W\) for kind 'image', got shape \(6, 2\)"),
        (_x(), None, {"kind": "graph"}, r"expected one of audio, image, sequence, tokens, vector, got 'graph'"),
    ],
)
def test_bad_inputs_raise_data_error(
    x: np.ndarray, y: np.ndarray | None, kwargs: dict, expected: str
) -> None:
    with pytest.raises(DataError, match=expected) as info:
        check_arrays(x, y, "train", **kwargs)
    message = str(info.value)
    assert message.count(":") >= 1 and message.rstrip().endswith((".", ")"))


def test_nan_and_inf_counted_with_first_sample() -> None:
    x = _x(10)
    x[7, 1] = np.nan
    x[9, 0] = np.inf
    x[9, 1] = -np.inf
    with pytest.raises(DataError, match=r"got 3 NaN or inf values \(first in sample 7\)\. Impute or drop"):
        check_arrays(torch.from_numpy(x), None, "train")


def test_good_inputs_pass() -> None:
    check_arrays(_x(), np.array([0, 1, 2, 0, 1, 2.0]), "train", num_classes=3)
    images = torch.zeros(4, 1, 8, 8, dtype=torch.bfloat16)
    check_arrays(images, torch.tensor([1, 0, 1, 0]), "train", kind="image")
    check_arrays(np.zeros((4, 3), dtype=np.uint8), np.array([True, False, True, True]), "train")


def test_make_bundle_checks_before_building() -> None:
    with pytest.raises(DataError, match=r"at data\.x: expected 2 \(N, F\), 3 \(N, C, T\) or 4"):
        from_arrays(np.arange(5.0))
    with pytest.raises(DataError, match=r"labels at data: expected labels for both train and test"):
        from_arrays(_x(), np.arange(6) % 2, x_test=_x(3))
    with pytest.raises(DataError, match=r"expected samples of shape \(2,\) like x, got \(3,\)"):
        from_arrays(_x(), x_test=np.zeros((2, 3)))
    with pytest.raises(DataError, match=r"at data\.test\.x: expected finite numbers"):
        from_arrays(_x(), x_test=np.full((2, 2), np.nan))
    with pytest.raises(DataError, match=r"at data\.y_test: expected values in 0\.\.1"):
        from_arrays(_x(), np.arange(6) % 2, x_test=_x(2), y_test=np.array([0, 5]), class_names=["a", "b"])
