"""Text datasets: the SMS Spam Collection, CSV/JSONL files and folders of .txt files, as token ids.

Every source reads raw texts and labels, then :func:`text_bundle` splits them (seeded, stratified,
the same split :func:`make_bundle` makes), fits the tokenizer on the training texts only, and
encodes every split as ``(N, max_length)`` int64 ids (DataInfo kind "tokens", never normalized).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import urllib.request
import zipfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from deepfeat.data.bundle import (
    LoadOptions,
    encode_labels,
    keep_classes,
    make_bundle,
    split_indices,
    subsample,
)
from deepfeat.data.classes import resolve_classes
from deepfeat.data.datasets import always_available, data_root, register_dataset
from deepfeat.data.folders import check_inside
from deepfeat.data.splits import DataBundle
from deepfeat.data.tokenize import build_tokenizer
from deepfeat.data.validation_policy import resolve_val_fraction
from deepfeat.errors import DataError

SMS_URL = "https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip"
SMS_FILE = "SMSSpamCollection"
SMS_MD5 = "1949b64a224790d01335c2bf8a0e48b2"  # the file inside the official zip (5,574 messages)

TokenizerSpec = dict[str, Any] | str
AUTO = "auto"  # label_column: the column named "label" when there is one, else unlabelled (as ``arrays`` reads a CSV)


def text_bundle(texts: Sequence[str], labels: Sequence[str] | None, name: str, tokenizer: TokenizerSpec,
                limit: int | None, options: LoadOptions) -> DataBundle:
    """Split ``texts`` with ``labels`` (None: unlabelled), fit ``tokenizer`` on the training split, encode all."""
    codes: np.ndarray | None = None
    class_names: list[str] | None = None
    if labels is not None:
        (codes,), class_names = encode_labels(np.asarray(labels, dtype=str))
    keep = subsample(np.zeros(len(texts), np.int64) if codes is None else codes, limit, options,
                     class_names or [])
    texts_arr = np.asarray(texts, dtype=object)
    if keep is not None:
        texts_arr, codes = texts_arr[keep], None if codes is None else codes[keep]
    # The split make_bundle will make (a pure function of n, labels, fractions and seed), computed
    # first so the vocabulary sees training texts only.
    fractions = [resolve_val_fraction(options.val_fraction, len(texts_arr)), options.test_fraction]
    train = split_indices(len(texts_arr), codes, fractions, options.seed)[0]
    if codes is None and (options.classes is not None or options.normal_classes is not None):
        raise DataError(f"class subset at {options.where}: expected labelled texts for classes / normal_classes, got "
                        f"texts without labels ({name}). Add the label column, or remove classes / normal_classes.")
    if options.classes is not None:
        train = train[np.isin(codes[train], resolve_classes(options.classes, class_names, f"{options.where}.classes"))]
    if options.normal_classes is not None:
        normal = resolve_classes(options.normal_classes, class_names, f"{options.where}.normal_classes")
        train = keep_classes([train], codes, normal, len(class_names), options.where)[0]
    tok = build_tokenizer(tokenizer, where=f"{options.where}.tokenizer").fit(list(texts_arr[train]))
    bundle = make_bundle(tok.encode(list(texts_arr)), codes, "tokens", name, class_names=class_names,
                         **options.kwargs())
    bundle.info.tokenizer = tok.to_dict()
    return bundle


def read_utf8(path: Path, where: str) -> str:
    """The text of ``path``; :class:`DataError` naming the file and line of the first byte that is not UTF-8
    (decoding it with replacement characters would train on text the file does not hold)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"text file {path}:{line} at {where}: expected UTF-8 text, got the bytes "
                        f"{data[exc.start:exc.end]!r} ({exc.reason}). Re-save the file as UTF-8 "
                        "(e.g. iconv -f latin1 -t utf-8).") from None


def read_sms_spam(path: Path, where: str = "data") -> tuple[list[str], list[str]]:
    """Texts and labels ("ham"/"spam") from the UCI ``label<TAB>text`` file."""
    texts, labels = [], []
    # Universal newlines, as open() reads text.
    for line_no, line in enumerate(io.StringIO(read_utf8(path, where), newline=None), 1):
        if not line.strip():
            continue
        label, sep, text = line.rstrip("\n").partition("\t")
        if not sep:
            raise DataError(f"SMS line at {path}:{line_no}: expected 'label<TAB>text', got {line[:40]!r}. "
                            "Use the original SMSSpamCollection file.")
        labels.append(label)
        texts.append(text)
    return texts, labels


def download_sms_spam(folder: Path, where: str) -> None:
    """Fetch the official zip, check the MD5 of its ``SMSSpamCollection`` and save it in ``folder``."""
    try:
        with urllib.request.urlopen(SMS_URL, timeout=60) as response:
            payload = response.read()
        data = zipfile.ZipFile(io.BytesIO(payload)).read(SMS_FILE)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"dataset 'sms_spam' at {where}: expected to download {SMS_URL}, got: {exc}. "
                        f"Check the network, or put {SMS_FILE} into {folder}.") from exc
    digest = hashlib.md5(data).hexdigest()
    if digest != SMS_MD5:
        raise DataError(f"dataset 'sms_spam' at {where}: expected MD5 {SMS_MD5} for {SMS_FILE}, got {digest}. "
                        "The download is corrupt or changed; retry or fetch it by hand.")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SMS_FILE).write_bytes(data)


def _sms_available() -> tuple[bool, str]:
    path = data_root() / "sms_spam" / SMS_FILE
    return (True, str(path)) if path.is_file() else (False, f"missing {path}")


@register_dataset("sms_spam", aliases=("sms",), available=_sms_available)
def sms_spam(root: str | None = None, download: bool = False, tokenizer: TokenizerSpec = "word",
             limit: int | None = None, *, options: LoadOptions = LoadOptions()) -> DataBundle:
    """UCI SMS Spam Collection (Almeida et al. 2011): 5,574 messages, ham (86.6%) or spam, as token ids."""
    folder = data_root(root) / "sms_spam"
    path = folder / SMS_FILE
    if not path.is_file():
        if not download:
            raise DataError(f"dataset 'sms_spam' at {options.where}: expected the file {path}, got none. Set "
                            f"{options.where}.root or DEEPFEAT_DATA to the folder holding sms_spam/{SMS_FILE}, "
                            "or set download: true.")
        download_sms_spam(folder, options.where)
    texts, labels = read_sms_spam(path, options.where)
    return text_bundle(texts, labels, "sms_spam", tokenizer, limit, options)


def read_text_table(path: Path, text_column: str, label_column: str | None,
                    where: str) -> tuple[list[str], list[str] | None]:
    """Texts and labels from a file read by its suffix (:data:`TEXT_READERS`): a .csv (with a header row), a .jsonl
    file (one object per line) or a .txt file (one text per line, unlabelled).

    ``label_column``: a column every row has; ``"auto"``: ``label`` when the rows have it, else none; None:
    none. Without one the labels are None (new texts to apply a run to).
    """
    if not path.is_file():
        raise DataError(f"text file at {where}.path: expected a {'/'.join(TEXT_READERS)} file, got no file at "
                        f"{path}. Check the path.")
    text = io.StringIO(read_utf8(path, f"{where}.path"), newline="")
    rows = TEXT_READERS.get(path.suffix.lower(), _csv_rows)(text, path, text_column)
    if label_column == AUTO:
        label_column = "label" if any("label" in row for row in rows) else None
    wanted = [c for c in (text_column, label_column) if c is not None]
    for i, row in enumerate(rows):
        if any(c not in row for c in wanted):
            raise DataError(f"text row at {path}:{i + 1}: expected columns {' and '.join(map(repr, wanted))}, got "
                            f"{sorted(row)}. Set {where}.text_column / label_column to the right names.")
    labels = None if label_column is None else [str(r[label_column]) for r in rows]
    return [str(r[text_column]) for r in rows], labels


def _csv_rows(text: io.StringIO, path: Path, text_column: str) -> list[dict[str, Any]]:
    """One row per line after the header row, keyed by the header's names."""
    return list(csv.DictReader(text))


def _line_rows(text: io.StringIO, path: Path, text_column: str) -> list[dict[str, Any]]:
    """One text per non-blank line (a message each, no header and no label), as the text column."""
    return [{text_column: line.rstrip("\r\n")} for line in text if line.strip()]


def _jsonl_rows(text: io.StringIO, path: Path, text_column: str) -> list[dict[str, Any]]:
    """One JSON object per non-blank line; :class:`DataError` naming the line that is not one."""
    rows = []
    for line_no, line in enumerate(text, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"JSON line at {path}:{line_no}: expected one JSON object per line, got invalid JSON "
                            f"({exc.msg} at column {exc.colno}). Fix or remove the line.") from None
        if not isinstance(row, dict):
            raise DataError(f"JSON line at {path}:{line_no}: expected one JSON object per line, got "
                            f"{type(row).__name__} {line.strip()[:40]!r}. Write each row as {{\"text\": ..., \"label\": ...}}.")
        rows.append(row)
    return rows


# How each suffix's file of texts is read, as rows of columns; another suffix is read as CSV.
TEXT_READERS = {".csv": _csv_rows, ".jsonl": _jsonl_rows, ".ndjson": _jsonl_rows, ".txt": _line_rows}


@register_dataset("text_csv", aliases=("text_jsonl",), available=always_available("needs path"))
def text_csv(path: str, text_column: str = "text", label_column: str | None = AUTO, tokenizer: TokenizerSpec = "word",
             limit: int | None = None, *, options: LoadOptions = LoadOptions()) -> DataBundle:
    """Texts from a CSV (header row) or JSONL file with a text and a label column (``auto``: ``label`` if the file
    has one; null or no such column: unlabelled, e.g. new texts for a trained run), or a .txt file of one text per
    line (unlabelled)."""
    texts, labels = read_text_table(Path(path).expanduser(), text_column, label_column, options.where)
    return text_bundle(texts, labels, Path(path).stem, tokenizer, limit, options)


@register_dataset("text_folder", available=always_available("needs root"))
def text_folder(root: str, tokenizer: TokenizerSpec = "word", limit: int | None = None, follow_symlinks: bool = False,
                *, options: LoadOptions = LoadOptions()) -> DataBundle:
    """One sub-folder per class holding one UTF-8 ``.txt`` file per document (e.g. ``root/spam/1.txt``).

    A file that is not UTF-8 fails naming its line; links leading out of ``root`` are refused unless ``follow_symlinks``.
    """
    base = Path(root).expanduser()
    files = sorted(base.glob("*/*.txt"))
    if not files:
        raise DataError(f"text folder at {options.where}.root: expected <class>/<doc>.txt files under {base}, "
                        "got none. Put one sub-folder per class with .txt files in it.")
    check_inside(files, base, options.where, follow_symlinks)
    texts = [read_utf8(f, f"{options.where}.root") for f in files]
    return text_bundle(texts, [f.parent.name for f in files], base.name, tokenizer, limit, options)
