"""Tables: the columns of a CSV or Parquet file as numeric features, text columns one-hot encoded.

A column whose every cell is a number is one feature. A column where no cell is a number (``red``, ``blue``) is a
category: one 0/1 feature per value, the values (sorted) taken from the training file and kept with the model
(``DataInfo.reader``), so new rows are encoded the same way and a value not seen in training is all zeros (logged).
A column mixing numbers and text (a missing value written ``NA``) is refused naming its first text cell, and so is
a text column of more than ``max_categories`` values (an id or free text: no category). Standardizing the features
is the bundle's (statistics of the training split, stored with the model).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfeat.errors import DataError
from deepfeat.extras import require

log = logging.getLogger("deepfeat")

MAX_CATEGORIES = 50  # text columns with more values are ids or free text, not categories


@dataclass
class Columns:
    """A table as read: column ``names`` (None: no header row), one array per column (float64, or text as ``str``),
    and the line of the file each row came from (for errors; None where a file has no lines)."""

    names: list[str] | None
    values: list[np.ndarray]
    lines: list[int] | None
    path: Path


def read_parquet(path: Path, where: str) -> Columns:
    """The columns of a Parquet file: numbers and booleans as float64 (nulls NaN), any other type as text."""
    require({"tables": ["reading .parquet files"]}, f"{where}.path")
    import pyarrow.parquet as pq
    import pyarrow.types as pt

    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ... for a damaged file
        raise DataError(f"parquet file at {where}.path: expected a readable Parquet file, got an error reading {path}: "
                        f"{str(exc).splitlines()[0]}. Write or copy the file again.") from None
    values = []
    for column in table.columns:
        numeric = pt.is_integer(column.type) or pt.is_floating(column.type) or pt.is_boolean(column.type)
        if numeric:
            values.append(column.to_numpy(zero_copy_only=False).astype(np.float64))
        else:
            values.append(np.array(["" if v is None else str(v) for v in column.to_pylist()], dtype=str))
    return Columns(list(table.column_names), values, None, path)


def split_label(table: Columns, index: int | None) -> tuple[Columns, np.ndarray | None]:
    """The table without column ``index`` and that column (None: no label column)."""
    if index is None:
        return table, None
    names = None if table.names is None else table.names[:index] + table.names[index + 1:]
    rest = table.values[:index] + table.values[index + 1:]
    return Columns(names, rest, table.lines, table.path), table.values[index]


def encode(table: Columns, categories: dict[str, list[str]] | None, max_categories: int,
           where: str) -> tuple[np.ndarray, dict[str, list[str]]]:
    """Features (N, F) float64 of ``table``, and the categories of its text columns (``categories``: those of
    training, else found here)."""
    given, found, features = categories or {}, {}, []
    for j, column in enumerate(table.values):
        name = table.names[j] if table.names is not None else str(j)
        numbers = _numbers(column)
        if name not in given and numbers is not None:
            features.append(numbers[:, None])
            continue
        text = column.astype(str)
        if name not in given:
            _check_categorical(text, name, table, max_categories, where)
        values = given.get(name) or sorted(set(text.tolist()))
        found[name] = values
        features.append(_one_hot(text, values, name, table.path))
    width = len(table.values[0]) if table.values else 0
    return (np.concatenate(features, axis=1) if features else np.zeros((width, 0))), found


def _numbers(column: np.ndarray) -> np.ndarray | None:
    """``column`` as float64, or None when some cell is not a number."""
    if column.dtype.kind == "f":
        return column
    try:
        return column.astype(np.float64)
    except ValueError:
        return None


def _check_categorical(text: np.ndarray, name: str, table: Columns, max_categories: int, where: str) -> None:
    """DataError for a text column that is no category: numbers among the text, or too many values."""
    is_number = np.array([_numbers(np.array([v])) is not None for v in text])
    at = table.path if table.lines is None else f"{table.path}:{{}}"
    if is_number.any():
        i = int(np.argmin(is_number))
        where_cell = at.format(table.lines[i]) if table.lines is not None else f"{at} row {i}"
        raise DataError(f"CSV value at {where_cell}: expected a number in every feature column, got {str(text[i])!r} "
                        f"({int((~is_number).sum())} such cells) in column {name!r}, whose other cells are numbers. "
                        "Fill missing values and encode text columns as numbers, or name the label column with "
                        "label_column.")
    count = len(set(text.tolist()))
    if count > max_categories:
        raise DataError(f"text column {name!r} at {where}.max_categories: expected at most {max_categories} distinct "
                        f"values to one-hot encode, got {count} in {table.path}. Drop the column (an id or free text), "
                        f"encode it as numbers, or raise max_categories.")


def _one_hot(text: np.ndarray, values: list[str], name: str, path: Path) -> np.ndarray:
    """(N, len(values)) 0/1 columns of ``text``; a value outside ``values`` is all zeros, logged once."""
    index = {v: k for k, v in enumerate(values)}
    codes = np.array([index.get(v, -1) for v in text.tolist()], dtype=np.int64)
    unseen = codes < 0
    if unseen.any():
        log.warning(f"{int(unseen.sum())} rows of {path} have a value of column {name!r} not seen in training "
                    f"({str(text[unseen][0])!r}, ...): encoded as all zeros in its {len(values)} one-hot columns")
    out = np.zeros((len(text), len(values)))
    out[np.flatnonzero(~unseen), codes[~unseen]] = 1.0
    return out
