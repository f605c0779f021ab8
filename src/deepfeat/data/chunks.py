"""Samples of a .npy or .csv file in chunks, so a file larger than memory can be featurized.

``.npy`` is read through a read-only memory map (``np.load(mmap_mode="r")``): each chunk is copied
out as float32 and the map's pages are then released (``madvise(MADV_DONTNEED)``), so resident memory
stays at about one chunk however large the file. ``.csv`` is read in row chunks; a column
named ``label`` (as ``arrays`` datasets read it) is left out. Neither pickles.
"""

from __future__ import annotations

import csv
import mmap
from pathlib import Path
from typing import Iterator

import numpy as np

from deepfeat.data.files import is_number, load_npy
from deepfeat.errors import DataError

STREAMABLE = (".npy", ".csv")


def count_rows(path: Path) -> int:
    """Samples in a .npy (its header) or a .csv (its lines, less a header row) without reading the values."""
    if path.suffix.lower() == ".npy":
        return int(load_npy(path, mmap=True).shape[0])
    with open(path, "rb") as f:
        lines = sum(1 for line in f if line.strip())
    return lines - int(_csv_header(path) is not None)


def iter_chunks(path: Path, rows: int = 8192) -> Iterator[np.ndarray]:
    """``(n <= rows, *sample_shape)`` float32 chunks of the samples in ``path``, in file order."""
    if path.suffix.lower() == ".npy":
        yield from _npy_chunks(path, rows)
    elif path.suffix.lower() == ".csv":
        yield from _csv_chunks(path, rows)
    else:
        raise DataError(f"file {path}: expected a {' or '.join(STREAMABLE)} file to read in chunks, got {path.suffix!r}")


def _npy_chunks(path: Path, rows: int) -> Iterator[np.ndarray]:
    array = load_npy(path, mmap=True)
    pages = getattr(array, "_mmap", None)  # numpy's memmap keeps its mmap here; None for an empty file
    for start in range(0, array.shape[0], rows):
        chunk = np.array(array[start:start + rows], dtype=np.float32)
        if pages is not None:  # the file's pages stay in the page cache, not in this process's resident set
            pages.madvise(mmap.MADV_DONTNEED)
        yield chunk


def _csv_header(path: Path) -> list[str] | None:
    with open(path, newline="") as f:
        first = next(csv.reader(f), None)
    if first is None:
        raise DataError(f"CSV file {path}: expected data rows, got an empty file. Check the file.")
    return None if all(is_number(c.strip()) for c in first) else [c.strip() for c in first]


def _csv_chunks(path: Path, rows: int) -> Iterator[np.ndarray]:
    header = _csv_header(path)
    drop = header.index("label") if header is not None and "label" in header else None
    with open(path, newline="") as f:
        reader = csv.reader(f)
        if header is not None:
            next(reader)
        batch: list[list[str]] = []
        for row in reader:
            if row:
                batch.append(row if drop is None else row[:drop] + row[drop + 1:])
            if len(batch) == rows:
                yield _floats(batch, path, reader.line_num)
                batch = []
        if batch:
            yield _floats(batch, path, reader.line_num)


def _floats(rows: list[list[str]], path: Path, line: int) -> np.ndarray:
    try:
        return np.array(rows, dtype=np.float32)
    except ValueError as e:
        raise DataError(f"CSV rows of {path} before line {line}: expected the same number of numeric columns in every "
                        f"row, got {e}. Fill missing values and encode text columns as numbers.") from None
