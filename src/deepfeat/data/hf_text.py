"""Hugging Face datasets as text sources: by hub name when online, or from a local copy offline.

The chosen split (``train`` by default) is read whole, then split by deepfeat like every other source
(seeded, stratified, vocabulary fitted on the training part only), so numbers are comparable across
sources. Integer labels with a ``ClassLabel`` feature keep their names ("ham", "spam").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepfeat.data.bundle import LoadOptions
from deepfeat.data.datasets import importable, register_dataset
from deepfeat.data.splits import DataBundle
from deepfeat.data.text import TokenizerSpec, text_bundle
from deepfeat.errors import DataError
from deepfeat.extras import load


def _load(path: str, name: str | None, split: str, revision: str | None, where: str) -> Any:
    """The ``datasets.Dataset`` for ``path``: a folder from ``save_to_disk``, data files, or a hub name."""
    datasets = load("datasets", "text", f"dataset 'hf_text' at {where}")
    local = Path(path).expanduser()
    saved = local.is_dir() and any((local / f).is_file() for f in ("dataset_info.json", "dataset_dict.json"))
    try:
        if saved:
            loaded = datasets.load_from_disk(str(local))
            return loaded[split] if isinstance(loaded, datasets.DatasetDict) else loaded
        return datasets.load_dataset(str(local) if local.exists() else path, name, split=split, revision=revision)
    except (KeyError, ValueError) as exc:
        raise DataError(f"dataset 'hf_text' at {where}.split: expected a split of {path!r}, got {split!r} ({exc}). "
                        "Set split to one the dataset has (usually 'train').") from exc
    except Exception as exc:  # the hub raises many types (connection, not found, offline mode)
        raise DataError(f"dataset 'hf_text' at {where}.path: expected to load {path!r} "
                        f"{'from the local folder' if local.exists() else 'from the Hugging Face hub'}, "
                        f"got {type(exc).__name__}: {exc}. Offline, point path to a folder written by "
                        "Dataset.save_to_disk or to a folder of CSV/JSON files.") from exc


def _label_names(dataset: Any, label_column: str) -> list[str]:
    """Labels as strings; a ``ClassLabel`` column's integer codes become their names."""
    feature = dataset.features[label_column]
    values = dataset[label_column]
    names = getattr(feature, "names", None)
    return [names[v] for v in values] if names else [str(v) for v in values]


@register_dataset("hf_text", aliases=("huggingface_text",), available=importable("datasets"))
def hf_text(path: str, name: str | None = None, split: str = "train", text_column: str = "text",
            label_column: str = "label", revision: str | None = None, tokenizer: TokenizerSpec = "word",
            limit: int | None = None, *, options: LoadOptions = LoadOptions()) -> DataBundle:
    """A labelled text dataset from Hugging Face ``datasets`` (hub name, saved folder or data files)."""
    dataset = _load(path, name, split, revision, options.where)
    missing = [c for c in (text_column, label_column) if c not in dataset.column_names]
    if missing:
        raise DataError(f"dataset 'hf_text' at {options.where}: expected columns {text_column!r} and "
                        f"{label_column!r}, got {dataset.column_names}. Set text_column / label_column.")
    texts = [str(t) for t in dataset[text_column]]
    return text_bundle(texts, _label_names(dataset, label_column), Path(path).name or path, tokenizer, limit, options)
