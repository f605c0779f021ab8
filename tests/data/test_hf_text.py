"""Hugging Face text datasets: a saved folder, a folder of CSV files, and clear errors offline."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from deepfeat.data import load_dataset
from deepfeat.errors import DataError

datasets = pytest.importorskip("datasets")

HAM = ["see you at lunch", "call me later", "ok thanks", "on my way home", "dinner at eight"] * 4
SPAM = ["win a free prize now", "claim your cash reward", "free entry text win"] * 4


def _saved(tmp_path: Path) -> Path:
    """A DatasetDict with a ClassLabel column, written by save_to_disk (what users do offline)."""
    features = datasets.Features({"sms": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["ham", "spam"])})
    train = datasets.Dataset.from_dict({"sms": HAM + SPAM, "label": [0] * len(HAM) + [1] * len(SPAM)},
                                       features=features)
    datasets.DatasetDict({"train": train}).save_to_disk(str(tmp_path / "sms"))
    return tmp_path / "sms"


def test_saved_dataset_keeps_class_names_and_fits_the_vocabulary_on_train_only(tmp_path: Path) -> None:
    bundle = load_dataset({"name": "hf_text", "path": str(_saved(tmp_path)), "text_column": "sms"},
                          val_fraction=0.25, test_fraction=0.25)
    assert bundle.info.class_names == ["ham", "spam"]
    assert bundle.info.kind == "tokens"
    sizes = [len(s.y) for s in (bundle.train, bundle.val, bundle.test)]
    assert sum(sizes) == len(HAM) + len(SPAM) and min(sizes) > 0
    assert set(bundle.train.y.tolist()) == {0, 1}
    assert bundle.info.tokenizer is not None and "win" in bundle.info.tokenizer["vocab"]


def test_folder_of_csv_files_loads_offline(tmp_path: Path) -> None:
    folder = tmp_path / "csvs"
    folder.mkdir()
    with open(folder / "train.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows([(t, "ham") for t in HAM] + [(t, "spam") for t in SPAM])
    bundle = load_dataset({"name": "hf_text", "path": str(folder)}, val_fraction=0.2, test_fraction=0.2)
    assert bundle.info.class_names == ["ham", "spam"]
    assert len(bundle.train.y) + len(bundle.val.y) + len(bundle.test.y) == len(HAM) + len(SPAM)


def test_missing_column_and_unreachable_hub_name_are_clear_errors(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError, match="expected columns 'text' and 'label'"):
        load_dataset({"name": "hf_text", "path": str(_saved(tmp_path))})
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="from the Hugging Face hub"):
        load_dataset({"name": "hf_text", "path": "nobody/no-such-dataset-xyz"})
