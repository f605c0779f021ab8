"""User journeys from the README, as written: your own file in, a trained run, answers for new files out.

Each journey runs through the command line (``deepfeat.cli.main``), then through the Python API, on tiny data made
here and one or two epochs.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml

import deepfeat
import deepfeat.api
from deepfeat.cli import main

FAST = {"training": {"epochs": 1, "batch_size": 16, "progress": "none"},
        "evaluation": {"embedding_plots": [], "protocol": []}, "logging": {"plots": False, "report": False}}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in ``tmp_path``, so paths are written as in the README (relative to the working folder)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _config(path: str, **cfg: object) -> str:
    Path(path).write_text(yaml.safe_dump({**FAST, **cfg}))
    return path


def _rows(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _write_csv(path: str, header: list[str], rows: list[list[object]]) -> None:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])


def test_a_table_with_a_label_column_one_class_autoencoder_scores_new_rows(here: Path) -> None:
    rng = np.random.default_rng(0)
    x, labels = rng.normal(size=(80, 3)).round(3), ["normal", "normal", "normal", "odd"] * 20
    x[3::4] += 4.0
    _write_csv("rows.csv", ["a", "b", "c", "label"], [[*r, lab] for r, lab in zip(x, labels)])
    _write_csv("new_rows.csv", ["a", "b", "c"], rng.normal(size=(5, 3)).round(3).tolist())
    cfg = _config("table.yaml", data={"name": "arrays", "path": "rows.csv", "normal_classes": ["normal"]},
                  encoder={"name": "mlp", "hidden": [8]}, learner={"name": "autoencoder", "code_dim": 2})

    assert main(["fit", "-c", cfg, "--out", "runs/table"]) == 0
    assert main(["score", "runs/table", "--data", "new_rows.csv", "--out", "s.csv"]) == 0
    rows = _rows("s.csv")
    assert [r["id"] for r in rows] == ["0", "1", "2", "3", "4"] and {"score", "anomaly"} <= set(rows[0])
    assert all(float(r["score"]) >= 0 and r["anomaly"] in ("0", "1") for r in rows)

    run = deepfeat.fit(cfg, out="runs/table2")
    assert run.results["data"]["split_classes"]["train"] == ["normal"]
    path, summary = deepfeat.api.score_file(run, "new_rows.csv", "s2.csv")
    assert summary["samples"] == 5 and [r["id"] for r in _rows(str(path))] == ["0", "1", "2", "3", "4"]


def test_a_series_file_with_labels_then_predict_on_a_new_npy(here: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 1, 32)).astype("float32")
    np.savez("series.npz", x=x, y=(x[:, 0].mean(1) > 0).astype("int64"))
    np.save("new.npy", x[:7])
    cfg = _config("series.yaml", data={"name": "arrays", "path": "series.npz"},
                  encoder={"name": "fcn", "channels": [8, 8, 8]})

    assert main(["fit", "-c", cfg, "--out", "runs/series"]) == 0
    assert main(["predict", "runs/series", "--data", "new.npy", "--out", "answers.csv"]) == 0
    rows = _rows("answers.csv")
    assert [r["id"] for r in rows] == [str(i) for i in range(7)] and {r["label"] for r in rows} <= {"0", "1"}

    answers = deepfeat.predict(deepfeat.fit(cfg, out="runs/series2"), "new.npy")
    assert answers.proba.shape == (7, 2) and np.allclose(answers.proba.sum(1), 1, atol=1e-5)


def test_a_text_file_of_one_message_per_line_is_embedded_and_predicted(here: Path) -> None:
    _write_csv("messages.csv", ["text", "label"],
               [row for i in range(24) for row in ([f"win a free prize now {i}", "spam"],
                                                    [f"see you at lunch today {i}", "ham"])])
    Path("new_messages.txt").write_text("WIN a free prize\nlunch today?\n\nsee you soon\n")
    cfg = _config("text.yaml", data={"name": "text_csv", "path": "messages.csv",
                                     "tokenizer": {"name": "word", "max_length": 8, "min_freq": 1}},
                  encoder={"name": "text_rnn", "vocab_size": 64, "hidden_size": 16})

    assert main(["fit", "-c", cfg, "--out", "runs/text"]) == 0
    assert main(["embed", "runs/text", "--data", "new_messages.txt", "--out", "z.csv"]) == 0
    assert main(["predict", "runs/text", "--data", "new_messages.txt", "--out", "answers.csv"]) == 0
    assert [r["id"] for r in _rows("z.csv")] == ["0", "1", "2"]  # one row per message; the blank line is none
    assert {r["label"] for r in _rows("answers.csv")} <= {"ham", "spam"}

    run = deepfeat.fit(cfg, out="runs/text2")
    z = np.load(deepfeat.embed(run, "new_messages.txt", "z.npy"))
    assert Path("z.ids.txt").read_text().split() == ["0", "1", "2"] and z.shape == (3, run.learner.feature_dim) and np.isfinite(z).all()
    assert len(deepfeat.predict(run, "new_messages.txt").labels) == 3
