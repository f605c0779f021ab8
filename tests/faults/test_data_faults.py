"""Data-file faults for the ``arrays`` dataset: empty or cut-off files, text features, wrong shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepfeat.data.bundle import LoadOptions
from deepfeat.data.files import arrays
from deepfeat.errors import DataError


def _cut(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


@pytest.mark.parametrize("name,expected", [("x.npy", "a NumPy .npy array"), ("x.npz", "a NumPy .npz archive")])
def test_empty_numpy_file_names_the_file(tmp_path: Path, name: str, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(DataError) as err:
        arrays(str(path))
    assert str(err.value).startswith(f"file {path} is empty or truncated: expected {expected}")
    assert "got 0 bytes" in str(err.value) and "Write or copy the file again" in str(err.value)


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.99])
def test_truncated_npy_names_the_file(tmp_path: Path, keep: float) -> None:
    np.save(tmp_path / "x.npy", np.random.rand(50, 4))
    path = _cut(tmp_path / "x.npy", keep)
    with pytest.raises(DataError, match=r"^file .*x\.npy is empty or truncated: expected a NumPy \.npy array"):
        arrays(str(path))


def test_truncated_npz_names_the_file(tmp_path: Path) -> None:
    np.savez(tmp_path / "x.npz", x=np.random.rand(50, 4), y=np.arange(50) % 2)
    path = _cut(tmp_path / "x.npz", 0.7)
    with pytest.raises(DataError, match=r"^file .*x\.npz is empty or truncated: .*not a complete zip archive"):
        arrays(str(path))


def test_truncated_csv_points_at_its_last_row(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b,label\n1,2,0\n3,4,1\n5,")
    with pytest.raises(DataError) as err:
        arrays(str(path))
    assert str(err.value).startswith(f"CSV row at {path}:4: expected 3 columns, got 2")
    assert "the file may be truncated" in str(err.value)


def test_empty_csv_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("")
    with pytest.raises(DataError, match=r"expected data rows, got none in .*x\.csv \(an empty file\)"):
        arrays(str(path))


def test_text_features_in_a_csv_name_the_cell_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b,label\n1,red,0\n3,4,1\n5,6,0\n")
    with pytest.raises(DataError) as err:
        arrays(str(path))
    assert str(err.value).startswith(f"CSV value at {path}:2: expected a number in every feature column, got 'red'")
    assert "encode text columns as numbers" in str(err.value)


def test_one_dimensional_x_says_which_shapes_are_expected(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.random.rand(50))
    with pytest.raises(DataError, match=r"expected 2 \(N, F\), 3 \(N, C, T\) or 4 \(N, C, H, W\) dimensions, got 1\. "
                                        r"Reshape the array \(a single feature is x\.reshape\(-1, 1\)\)"):
        arrays(str(tmp_path / "x.npy"))


def test_a_single_sample_cannot_be_split(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.random.rand(1, 4))
    with pytest.raises(DataError) as err:
        arrays(str(path))
    assert str(err.value).startswith(f"data file {path} at data.path: expected at least 2 samples")
    assert "got 1 sample of shape (4,)" in str(err.value) and "data.val_fraction: 0" in str(err.value)
    unsplit = arrays(str(path), options=LoadOptions(val_fraction=0.0, test_fraction=0.0))
    assert tuple(unsplit.train.x.shape) == (1, 4)
