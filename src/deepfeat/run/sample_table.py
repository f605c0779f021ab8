"""Per-sample outputs of an applied run, written batch by batch: a table with an ``id`` column, or an array beside
its ids.

``.csv`` and ``.parquet``: one row per sample, ``id`` first, then the named columns (floats with 9 significant
digits, which every float32 survives). ``.npy``: the values ``(N, ...)`` as float32, with ``<name>.ids.txt``
beside it, one id per line in the same order. Parquet needs pyarrow (``pip install deepfeat[tables]``).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from deepfeat.run.lock import make_folder
from deepfeat.errors import ConfigError
from deepfeat.extras import load

SUFFIXES = (".csv", ".parquet", ".npy")


def ids_file(out: Path) -> Path:
    """Where the ids of a ``.npy`` output go: ``features.npy`` -> ``features.ids.txt``."""
    return out.with_suffix(".ids.txt")


def output_file(out: str | Path, what: str, suffixes: tuple[str, ...] = SUFFIXES) -> Path:
    """``out`` checked (its suffix, pyarrow for parquet), its folder created."""
    out = Path(out)
    if out.suffix not in suffixes:
        raise ConfigError(f"{what} output {out}: expected a {', '.join(suffixes)} file name, got suffix {out.suffix!r}")
    if out.suffix == ".parquet":
        load("pyarrow", "tables", f".parquet output {out}", ", or write .csv")
    make_folder(out.parent, f"{what} output {out}")
    return out


class SampleWriter:
    """Append batches ``(ids, values (B, ...), columns {name: (B,)})`` to ``path`` without holding them all.

    ``.npy`` stores ``values`` (a memory map of ``total`` rows) and the ids beside; ``.csv`` / ``.parquet`` store
    ``id`` and ``columns``. A failure inside the ``with`` block leaves no output behind.
    """

    def __init__(self, path: Path, total: int) -> None:
        self.path, self.total, self.row = path, total, 0
        self._array: Any = None
        self._table: Any = None

    def __enter__(self) -> "SampleWriter":
        self._ids = open(ids_file(self.path), "w") if self.path.suffix == ".npy" else None
        if self.path.suffix == ".csv":
            self._file = open(self.path, "w", newline="")
            self._csv = csv.writer(self._file)
        return self

    def write(self, ids: list[str], values: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        if self.path.suffix == ".npy":
            if self._array is None:
                self._array = np.lib.format.open_memmap(self.path, mode="w+", dtype=np.float32,
                                                        shape=(self.total, *values.shape[1:]))
            self._array[self.row: self.row + len(values)] = values
            self._ids.write("".join(f"{i}\n" for i in ids))
        elif self.path.suffix == ".csv":
            if self.row == 0:
                self._csv.writerow(["id", *columns])
            self._csv.writerows(zip(ids, *(_text(c) for c in columns.values())))
        else:
            self._write_parquet(ids, columns)
        self.row += len(values)

    def _write_parquet(self, ids: list[str], columns: dict[str, np.ndarray]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"id": ids, **columns})
        if self._table is None:
            self._table = pq.ParquetWriter(self.path, table.schema)
        self._table.write_table(table)

    def __exit__(self, kind: Any, *exc: Any) -> None:
        if self.path.suffix == ".npy":
            self._ids.close()
            if self._array is None:  # no sample: an empty array of the right length
                np.save(self.path, np.zeros((0,), np.float32))
            else:
                self._array.flush()
                del self._array
        elif self.path.suffix == ".csv":
            if self.row == 0:
                self._csv.writerow(["id"])
            self._file.close()
        elif self._table is not None:
            self._table.close()
        if kind is not None:
            self.path.unlink(missing_ok=True)
            ids_file(self.path).unlink(missing_ok=True)


def _text(column: np.ndarray) -> list[str]:
    """A column as CSV cells: floats with 9 significant digits, everything else as written."""
    if np.issubdtype(column.dtype, np.floating):
        return [format(v, ".9g") for v in column.tolist()]
    return [str(v) for v in column.tolist()]
