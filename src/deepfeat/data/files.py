"""Arrays from a file: ``.npy`` (inputs only), ``.npz`` (named arrays) or ``.csv`` (a numeric table).

Files are read without pickle (``allow_pickle=False``), so a data file named in a config can never
run code.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from deepfeat.data.bundle import LoadOptions, encode_labels, make_bundle
from deepfeat.data.datasets import always_available, register_dataset
from deepfeat.data.info import Kind
from deepfeat.data.splits import DataBundle
from deepfeat.errors import DataError

AUTO = "auto"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _label_index(
    header: list[str] | None, label_column: str | int | None, width: int, where: str
) -> int | None:
    """The column holding labels: ``"auto"`` picks a column named "label" when the header has one."""
    if label_column is None or (label_column == AUTO and (header is None or "label" not in header)):
        return None
    if isinstance(label_column, int):
        if not -width <= label_column < width:
            raise DataError(
                f"label column at {where}.label_column: expected an index in {-width}..{width - 1}, "
                f"got {label_column}. The file has {width} columns."
            )
        return label_column % width
    name = "label" if label_column == AUTO else label_column
    if header is None or name not in header:
        raise DataError(
            f"label column at {where}.label_column: expected a column named '{name}', got "
            f"{'no header row' if header is None else 'columns ' + ', '.join(header)}. "
            "Name an existing column, give its index, or set label_column: null for unlabelled data."
        )
    return header.index(name)


def read_csv(
    path: Path, label_column: str | int | None = AUTO, where: str = "data"
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """Features (N, F) float64, labels (N,) or None, and class names when the labels are text."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        # Keep each row's line number in the file (blank lines are skipped) for error messages.
        numbered = [(reader.line_num, [cell.strip() for cell in row]) for row in reader if row]
    header = numbered.pop(0)[1] if numbered and not all(_is_number(c) for c in numbered[0][1]) else None
    if not numbered:
        raise DataError(f"CSV file at {where}.path: expected data rows, got none in {path}. Check the file.")
    lines, rows = [n for n, _ in numbered], [row for _, row in numbered]
    width = len(header or rows[0])
    for line, row in numbered:
        if len(row) != width:
            raise DataError(
                f"CSV row at {path}:{line}: expected {width} columns, got {len(row)}. "
                "Make every row the same length."
            )
    table = np.array(rows, dtype=str)
    col = _label_index(header, label_column, width, where)
    features = table if col is None else np.delete(table, col, axis=1)
    try:
        x = features.astype(np.float64)
    except ValueError:
        bad = np.argwhere(~np.vectorize(_is_number)(features))
        i, j = bad[0]
        raise DataError(
            f"CSV value at {path}:{lines[i]}: expected a number in every feature "
            f"column, got {str(features[i, j])!r} ({len(bad)} such cells). Fill missing values and encode "
            "text columns as numbers, or name the label column with label_column."
        ) from None
    if col is None:
        return x, None, None
    labels = table[:, col]
    if all(_is_number(v) and float(v).is_integer() for v in labels):
        return x, labels.astype(np.float64).astype(np.int64), None
    (codes,), names = encode_labels(labels)
    return x, codes, names


def _read_npz(path: Path, x_key: str, y_key: str, where: str) -> dict[str, np.ndarray | None]:
    with np.load(path, allow_pickle=False) as archive:
        if x_key not in archive:
            raise DataError(
                f"array at {where}.x_key: expected a key '{x_key}' in {path}, got keys "
                f"{', '.join(archive.files)}. Set x_key (and y_key) to the names used in the file."
            )
        found = {k: archive[k] if k in archive else None for k in (x_key, y_key, "x_test", "y_test")}
    return {"x": found[x_key], "y": found[y_key], "x_test": found["x_test"], "y_test": found["y_test"]}


def _read_file(
    file: Path, x_key: str, y_key: str, label_column: str | int | None, where: str
) -> tuple[dict[str, np.ndarray | None], list[str] | None]:
    """The arrays x, y, x_test, y_test in ``file`` (missing ones None) and text class names, if any."""
    suffix = file.suffix.lower()
    if suffix == ".npy":
        return {"x": np.load(file, allow_pickle=False), "y": None, "x_test": None, "y_test": None}, None
    if suffix == ".npz":
        return _read_npz(file, x_key, y_key, where), None
    if suffix == ".csv":
        x, y, class_names = read_csv(file, label_column, where)
        return {"x": x, "y": y, "x_test": None, "y_test": None}, class_names
    raise DataError(
        f"data file at {where}.path: expected a .npy, .npz or .csv file, got '{suffix or file.name}'. "
        "Convert the data to one of these formats."
    )


@register_dataset("arrays", aliases=("file",), available=always_available("any .npy/.npz/.csv path"))
def arrays(
    path: str,
    x_key: str = "x",
    y_key: str = "y",
    label_column: str | int | None = AUTO,
    kind: Kind | None = None,
    *,
    options: LoadOptions = LoadOptions(),
) -> DataBundle:
    """Arrays from ``path``: .npy (unlabelled x), .npz (``x_key``, ``y_key``, x_test, y_test) or .csv.

    ``kind`` defaults to the dimensions: (N, F) vector, (N, C, T) sequence, (N, C, H, W) image.
    A CSV's labels come from ``label_column`` (default: a column named "label", if any).
    """
    file = Path(path).expanduser()
    where = options.where
    if not file.is_file():
        raise DataError(
            f"data file at {where}.path: expected an existing .npy, .npz or .csv file, got {file} "
            "(not found). Check the path; relative paths start from the working directory."
        )
    try:
        data, class_names = _read_file(file, x_key, y_key, label_column, where)
    except DataError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(
            f"data file at {where}.path: expected a readable {file.suffix} file, got an error reading "
            f"{file}: {exc}. Check that the file is complete and holds numeric arrays (object arrays "
            "need pickle, which is refused)."
        ) from exc
    return make_bundle(
        data["x"], data["y"], kind, file.name, class_names=class_names,
        x_test=data["x_test"], y_test=data["y_test"] if data["x_test"] is not None else None,
        **options.kwargs(),
    )
