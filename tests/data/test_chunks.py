"""Files read in chunks for `deepfeat embed`: the .npy memory map and the chunked CSV give the file's samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepfeat.data import chunks
from deepfeat.data.chunks import count_rows, iter_chunks
from deepfeat.errors import DataError


def test_npy_chunks_come_from_a_memory_map_and_give_every_sample_in_order(tmp_path: Path, monkeypatch) -> None:
    x = np.random.default_rng(0).random((1000, 1, 8, 8))  # float64 on disk, float32 out
    np.save(tmp_path / "x.npy", x)
    opened = []
    load = np.load

    def spy(*args, **kwargs):
        opened.append(kwargs.get("mmap_mode"))
        return load(*args, **kwargs)

    monkeypatch.setattr(chunks.np, "load", spy)
    parts = list(iter_chunks(tmp_path / "x.npy", rows=300))
    assert [len(p) for p in parts] == [300, 300, 300, 100] and opened == ["r"]
    assert all(p.dtype == np.float32 for p in parts)
    np.testing.assert_array_equal(np.concatenate(parts), x.astype(np.float32))
    assert count_rows(tmp_path / "x.npy") == 1000


def test_csv_chunks_skip_the_header_and_the_label_column(tmp_path: Path) -> None:
    x = np.random.default_rng(1).random((25, 3)).astype(np.float32)
    rows = [f"{a:.9g},{i % 2},{b:.9g},{c:.9g}" for i, (a, b, c) in enumerate(x)]
    (tmp_path / "t.csv").write_text("a,label,b,c\n" + "\n".join(rows) + "\n")
    parts = list(iter_chunks(tmp_path / "t.csv", rows=10))
    assert [p.shape for p in parts] == [(10, 3), (10, 3), (5, 3)]
    np.testing.assert_array_equal(np.concatenate(parts), x)
    assert count_rows(tmp_path / "t.csv") == 25


def test_a_csv_with_text_in_a_feature_column_is_one_data_error(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("1,2\n3,x\n")
    with pytest.raises(DataError, match="numeric columns"):
        list(iter_chunks(tmp_path / "t.csv"))
