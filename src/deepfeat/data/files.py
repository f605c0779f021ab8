"""Arrays from a file: ``.npy`` (inputs only), ``.npz`` (named arrays), or a table (``.csv``, ``.parquet``).

Files are read without pickle (``allow_pickle=False``), so a data file named in a config can never
run code.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from deepfeat.data.bundle import LoadOptions, encode_labels, make_bundle
from deepfeat.data.checks import is_real
from deepfeat.data.datasets import always_available, register_dataset
from deepfeat.data.info import Kind
from deepfeat.data.splits import DataBundle
from deepfeat.data.tables import MAX_CATEGORIES, Columns, encode, read_parquet, split_label
from deepfeat.errors import DataError, DeepfeatError

AUTO = "auto"
TABLE_SUFFIXES = (".csv", ".parquet")


def is_number(text: str) -> bool:
    """Whether a CSV cell reads as a number (a header row is one whose cells do not)."""
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


def read_csv(path: Path, where: str = "data") -> Columns:
    """The cells of a CSV file as text columns, with its header row (if any) and each row's line number."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        # Keep each row's line number in the file (blank lines are skipped) for error messages.
        numbered = [(reader.line_num, [cell.strip() for cell in row]) for row in reader if row]
    header = numbered.pop(0)[1] if numbered and not all(is_number(c) for c in numbered[0][1]) else None
    if not numbered:
        raise DataError(f"CSV file at {where}.path: expected data rows, got none in {path} "
                        f"({'an empty file' if path.stat().st_size == 0 else 'a header only'}). Check the file.")
    lines, rows = [n for n, _ in numbered], [row for _, row in numbered]
    width = len(header or rows[0])
    for line, row in numbered:
        if len(row) != width:
            last = " It is the last row: the file may be truncated (copy it again)." if line == lines[-1] else ""
            raise DataError(
                f"CSV row at {path}:{line}: expected {width} columns, got {len(row)}. "
                f"Make every row the same length.{last}"
            )
    table = np.array(rows, dtype=str)
    return Columns(header, [table[:, j] for j in range(width)], lines, path)


def read_table(
    path: Path, label_column: str | int | None = AUTO, where: str = "data",
    categories: dict[str, list[str]] | None = None, max_categories: int = MAX_CATEGORIES,
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None, dict[str, list[str]]]:
    """Features (N, F) float64 of a .csv or .parquet table (text columns one-hot, see :mod:`deepfeat.data.tables`),
    labels (N,) or None, class names when the labels are text, and the categories of the text columns."""
    columns = read_parquet(path, where) if path.suffix.lower() == ".parquet" else read_csv(path, where)
    col = _label_index(columns.names, label_column, len(columns.values), where)
    features, labels = split_label(columns, col)
    x, found = encode(features, categories, max_categories, where)
    if labels is None:
        return x, None, None, found
    text = labels.astype(str) if labels.dtype.kind != "f" else labels
    if labels.dtype.kind == "f" and np.all(np.mod(labels, 1) == 0):
        return x, labels.astype(np.int64), None, found
    if labels.dtype.kind != "f" and all(is_number(v) and float(v).is_integer() for v in text):
        return x, text.astype(np.float64).astype(np.int64), None, found
    (codes,), names = encode_labels(text)
    return x, codes, names, found


def _truncated(path: Path, expected: str, detail: str) -> DataError:
    size = path.stat().st_size
    return DataError(f"file {path} is empty or truncated: expected {expected}, got {size} bytes ({detail}). "
                     "Write or copy the file again.")


# NumPy's words for a .npy file that ends early (header or data cut off; "mmap length": memory-mapped).
_NPY_CUT = ("EOF", "Failed to read all data", "No data left", "mmap length")
# NumPy's words for an array of Python objects, which only pickle could read.
_NPY_OBJECTS = ("Object arrays", "Python objects")


def load_npy(path: Path, mmap: bool = False) -> np.ndarray:
    """The numeric array in a .npy file, never unpickled (with ``mmap``: memory-mapped, read-only);
    :class:`DataError` naming the file when it is empty, cut off, or holds no numbers."""
    expected = "a NumPy .npy array (numpy.save)"
    if path.stat().st_size == 0:
        raise _truncated(path, expected, "no data")
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (EOFError, ValueError) as e:
        if isinstance(e, EOFError) or any(word in str(e) for word in _NPY_CUT):
            raise _truncated(path, expected, str(e).split(". ")[0]) from None
        if any(word in str(e) for word in _NPY_OBJECTS):
            raise _not_numbers(path, "object (Python objects, which only pickle reads: refused)") from None
        raise
    if not is_real(array.dtype):
        raise _not_numbers(path, str(array.dtype))
    return array


def _not_numbers(path: Path, dtype: str) -> DataError:
    return DataError(f"input dtype at {path}: expected an array of numbers (or booleans), got dtype {dtype}. Save "
                     "the features as numbers, e.g. numpy.save(path, x.astype(numpy.float32)) after encoding text.")


def _read_npz(path: Path, x_key: str, y_key: str, where: str) -> dict[str, np.ndarray | None]:
    # A .npz is a zip archive whose directory is at the end: a cut-off file has none.
    if path.stat().st_size == 0 or not zipfile.is_zipfile(path):
        raise _truncated(path, "a NumPy .npz archive (numpy.savez)", "not a complete zip archive")
    with np.load(path, allow_pickle=False) as archive:
        if x_key not in archive:
            raise DataError(
                f"array at {where}.x_key: expected a key '{x_key}' in {path}, got keys "
                f"{', '.join(archive.files)}. Set x_key (and y_key) to the names used in the file."
            )
        found = {k: archive[k] if k in archive else None for k in (x_key, y_key, "x_test", "y_test")}
    return {"x": found[x_key], "y": found[y_key], "x_test": found["x_test"], "y_test": found["y_test"]}


def _read_file(
    file: Path, x_key: str, y_key: str, label_column: str | int | None, where: str,
    categories: dict[str, list[str]] | None, max_categories: int,
) -> tuple[dict[str, np.ndarray | None], list[str] | None, dict[str, list[str]]]:
    """The arrays x, y, x_test, y_test in ``file`` (missing ones None), text class names, if any, and the categories
    of a table's text columns."""
    suffix = file.suffix.lower()
    if suffix == ".npy":
        return {"x": load_npy(file), "y": None, "x_test": None, "y_test": None}, None, {}
    if suffix == ".npz":
        return _read_npz(file, x_key, y_key, where), None, {}
    if suffix in TABLE_SUFFIXES:
        x, y, class_names, found = read_table(file, label_column, where, categories, max_categories)
        return {"x": x, "y": y, "x_test": None, "y_test": None}, class_names, found
    raise DataError(
        f"data file at {where}.path: expected a .npy, .npz, .csv or .parquet file, got '{suffix or file.name}'. "
        "Convert the data to one of these formats."
    )


def _check_samples(x: np.ndarray | None, file: Path, options: LoadOptions) -> None:
    """A file with one sample cannot be split into train/val/test: say so before splitting leaves val empty."""
    split = (options.val_fraction or 0.0) > 0 or options.test_fraction > 0
    if x is not None and x.ndim >= 1 and len(x) == 1 and split:
        raise DataError(
            f"data file {file} at {options.where}.path: expected at least 2 samples (rows) to split into "
            f"train/val/test, got 1 sample of shape {tuple(x.shape[1:])}. Add samples (one per row), or set "
            f"{options.where}.val_fraction: 0 and {options.where}.test_fraction: 0 to keep the file unsplit."
        )


@register_dataset("arrays", aliases=("file",), available=always_available("any .npy/.npz/.csv/.parquet path"))
def arrays(
    path: str,
    x_key: str = "x",
    y_key: str = "y",
    label_column: str | int | None = AUTO,
    kind: Kind | None = None,
    max_categories: int = MAX_CATEGORIES,  # a table's text column of at most this many values is one-hot encoded
    categories: dict[str, list[str]] | None = None,  # a text column's categories; null: found in the file
    *,
    options: LoadOptions = LoadOptions(),
) -> DataBundle:
    """Arrays from ``path``: .npy (unlabelled x), .npz (``x_key``, ``y_key``, x_test, y_test), or a table, .csv or
    .parquet (the Parquet reader is the ``tables`` extra: pyarrow).

    ``kind`` defaults to the dimensions: (N, F) vector, (N, C, T) sequence, (N, C, H, W) image.
    A table's labels come from ``label_column`` (default: a column named "label", if any); its text columns are
    one-hot encoded (:mod:`deepfeat.data.tables`; ``max_categories: 0`` refuses them), their categories kept in
    ``DataInfo.reader`` so the run's config records them and new rows are encoded the same way.
    """
    file = Path(path).expanduser()
    where = options.where
    if not file.is_file():
        raise DataError(
            f"data file at {where}.path: expected an existing .npy, .npz, .csv or .parquet file, got {file} "
            "(not found). Check the path; relative paths start from the working directory."
        )
    try:
        data, class_names, found = _read_file(file, x_key, y_key, label_column, where, categories, max_categories)
    except DeepfeatError:  # a missing extra (ConfigError) too: its one line as it is
        raise
    except (OSError, ValueError) as exc:
        raise DataError(
            f"data file at {where}.path: expected a readable {file.suffix} file, got an error reading "
            f"{file}: {exc}. Check that the file is complete and holds numeric arrays (object arrays "
            "need pickle, which is refused)."
        ) from exc
    _check_samples(data["x"], file, options)
    bundle = make_bundle(
        data["x"], data["y"], kind, file.name, class_names=class_names,
        x_test=data["x_test"], y_test=data["y_test"] if data["x_test"] is not None else None,
        **options.kwargs(),
    )
    if found:
        bundle.info.reader = {"categories": found}
    return bundle
