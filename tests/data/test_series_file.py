"""One long series read from a file for point scoring: layouts and the one-line errors for bad files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from deepfeat.data.series_file import read_series
from deepfeat.errors import DataError


def test_layouts_read_to_channels_by_time(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(2, 50))
    y = (np.arange(50) == 9).astype(int)
    np.save(tmp_path / "a.npy", x)
    np.savez(tmp_path / "b.npz", x=x, y=y)
    rows = "".join(f"2020-01-01 00:00:{t:02d},{float(a)!r},{float(b)!r},{lab}\n" for t, (a, b, lab) in enumerate(zip(*x, y)))
    (tmp_path / "c.csv").write_text("timestamp,left,right,is_anomaly\n" + rows)
    for name, labels in (("a.npy", None), ("b.npz", y), ("c.csv", y)):
        got, got_y = read_series(tmp_path / name, channels=2)
        np.testing.assert_array_equal(got, x)
        assert (got_y is None) if labels is None else (got_y == labels).all()
    one, _ = read_series(_save(tmp_path, x[0]), channels=1)  # (T,) is one channel
    assert one.shape == (1, 50)


def _save(tmp_path: Path, x: np.ndarray) -> Path:
    np.save(tmp_path / "s.npy", x)
    return tmp_path / "s.npy"


@pytest.mark.parametrize("write, expected", [
    (lambda p: p.write_text("value,label\n1.0,0\n2.0,2\n"), "expected 0 (normal) or 1 (anomaly)"),
    (lambda p: p.write_text("value,label\n1.0,0\n,1\n"), "expected numbers in every channel column, got '' in column"),
    (lambda p: p.write_text("value\n"), "empty or ragged"),
])
def test_bad_csv_files_say_what_is_wrong(tmp_path: Path, write, expected: str) -> None:
    write(tmp_path / "s.csv")
    with pytest.raises(DataError, match=re.escape(expected)):
        read_series(tmp_path / "s.csv", channels=1)


def test_npz_without_x_and_labels_of_the_wrong_length(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", series=np.zeros(10))
    with pytest.raises(DataError, match="expected an array named 'x'"):
        read_series(tmp_path / "a.npz", channels=1)
    np.savez(tmp_path / "b.npz", x=np.zeros(10), y=np.zeros(9))
    with pytest.raises(DataError, match="expected one per time point \\(10\\), got 9"):
        read_series(tmp_path / "b.npz", channels=1)
