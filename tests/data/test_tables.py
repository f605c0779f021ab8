"""Tables: CSV and Parquet, with a label column or none, text columns one-hot encoded the same way for new rows."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml

import deepfeat
from deepfeat.data.datasets import load_dataset
from deepfeat.errors import ConfigError, DataError

COLOURS = ("blue", "green", "red")


def _rows(n: int, seed: int = 0) -> list[list[object]]:
    rng = np.random.default_rng(seed)
    return [[round(float(rng.normal()), 3), COLOURS[i % 3], round(float(rng.normal()) * 100, 2), ("no", "yes")[i % 2]]
            for i in range(n)]


def _csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


HEADER = ["size", "colour", "price", "label"]


def test_a_text_column_is_one_hot_encoded_and_its_categories_kept(tmp_path: Path) -> None:
    path = _csv(tmp_path / "t.csv", HEADER, _rows(30))
    bundle = load_dataset({"name": "arrays", "path": str(path)}, test_fraction=0.0, normalize=False)
    x = bundle.train.x.numpy()
    assert x.shape == (30, 5) and bundle.info.class_names == ["no", "yes"]
    assert bundle.info.reader == {"categories": {"colour": list(COLOURS)}}
    assert np.array_equal(x[:, 1:4].sum(1), np.ones(30)) and set(np.unique(x[:, 1:4])) == {0.0, 1.0}
    standardized = load_dataset({"name": "arrays", "path": str(path)}, test_fraction=0.0)
    assert len(standardized.info.mean) == 5  # per feature, stored with the model
    assert abs(float(standardized.train.x[:, 4].mean())) < 1e-5


def test_a_parquet_table_reads_as_its_csv(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow", reason="parquet needs the 'tables' extra")
    import pyarrow.parquet as pq

    rows = _rows(30)
    columns = {name: [r[j] for r in rows] for j, name in enumerate(HEADER)}
    pq.write_table(pa.table(columns), tmp_path / "t.parquet")
    from_parquet = load_dataset({"name": "arrays", "path": str(tmp_path / "t.parquet")}, test_fraction=0.0,
                                normalize=False)
    from_csv = load_dataset({"name": "arrays", "path": str(_csv(tmp_path / "t.csv", HEADER, rows))},
                            test_fraction=0.0, normalize=False)
    assert np.allclose(from_parquet.train.x.numpy(), from_csv.train.x.numpy())
    assert from_parquet.info.reader == from_csv.info.reader and from_parquet.info.class_names == ["no", "yes"]


def test_parquet_without_pyarrow_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "t.parquet").write_bytes(b"PAR1")
    monkeypatch.setattr("deepfeat.extras.installed", lambda extra: extra != "tables")
    with pytest.raises(ConfigError, match=r"pip install 'deepfeat\[tables\]'"):
        load_dataset({"name": "arrays", "path": str(tmp_path / "t.parquet")})


def test_a_text_column_of_too_many_values_is_refused(tmp_path: Path) -> None:
    rows = [[i, f"customer-{i}", i % 2] for i in range(60)]
    path = _csv(tmp_path / "t.csv", ["x", "id", "label"], rows)
    with pytest.raises(DataError, match=r"text column 'id' at data.max_categories: expected at most 50 distinct "
                                        r"values to one-hot encode, got 60"):
        load_dataset({"name": "arrays", "path": str(path)})
    with pytest.raises(DataError, match="text column 'colour'.*expected at most 0"):
        load_dataset({"name": "arrays", "path": str(_csv(tmp_path / "c.csv", HEADER, _rows(9))), "max_categories": 0})


def test_new_rows_are_encoded_with_the_runs_categories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       caplog) -> None:
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "train.csv", HEADER, _rows(60))
    new = [[0.1, "red", 50.0], [0.2, "purple", 10.0], [0.3, "blue", 20.0]]  # purple: not seen in training
    _csv(tmp_path / "new.csv", HEADER[:3], new)
    cfg = {"data": {"name": "arrays", "path": "train.csv"}, "encoder": {"name": "mlp", "hidden": [8]},
           "training": {"epochs": 1, "progress": "none"}, "logging": {"plots": False, "report": False},
           "evaluation": {"protocol": [], "embedding_plots": []}}
    run = deepfeat.fit(cfg, out="runs/t")
    assert yaml.safe_load(Path("runs/t/config.yaml").read_text())["data"]["categories"] == {"colour": list(COLOURS)}
    with caplog.at_level("WARNING", logger="deepfeat"):
        answers = deepfeat.predict(run.dir, "new.csv")
    assert answers.ids == ["0", "1", "2"] and set(answers.labels) <= {"no", "yes"}
    assert "1 rows of new.csv have a value of column 'colour' not seen in training ('purple'" in caplog.text
