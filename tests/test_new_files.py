"""A user's journey with their own files: train on a class-per-folder set, then get answers for new files.

Every answer names the file it is for; new files are read with the run's own settings (size, channels,
sample rate), streamed, whatever their own format.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import deepfeat
from deepfeat.cli import main
from deepfeat.errors import ConfigError

CLASSES = ("bars", "stripes")
TINY = {
    "encoder": {"name": "mlp", "hidden": [16]},
    "optimizer": {"name": "adam", "lr": 0.01},
    "training": {"epochs": 2, "batch_size": 8, "progress": "none"},
    "evaluation": {"protocol": [], "embedding_plots": []},
    "logging": {"plots": False, "report": False},
}


def drawing(k: int, rng: np.random.Generator, size: int = 8) -> np.ndarray:
    """A noisy ``size`` x ``size`` image of class ``k``: vertical bars (0) or horizontal stripes (1)."""
    img = rng.integers(0, 60, (size, size)).astype(np.uint8)
    band = slice(size // 4, size // 2)
    if k == 0:
        img[:, band] = 255
    else:
        img[band, :] = 255
    return img


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """``train/<class>/*.png`` (8x8 grayscale, 12 per class) and ``new/*.png``: 6 unseen images in colour at 16x16,
    so only the run's own size and grayscale settings make them readable by its model."""
    root, rng = tmp_path_factory.mktemp("images"), np.random.default_rng(0)
    for k, name in enumerate(CLASSES):
        (root / "train" / name).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(drawing(k, rng)).save(root / "train" / name / f"{i:02d}.png")
    (root / "new").mkdir()
    for i in range(6):
        Image.fromarray(drawing(i % 2, rng, 16)).convert("RGB").save(root / "new" / f"photo_{i}.png")
    return root


def config(root: Path, learner: str, **data: object) -> dict:
    image_data = {"name": "image_folder", "root": str(root / "train"), "size": 8, "grayscale": True, **data}
    return {**TINY, "data": image_data, "learner": {"name": learner}}


@pytest.fixture(scope="module")
def classifier(images: Path) -> Path:
    return deepfeat.fit(config(images, "classifier", val_fraction=0.0, test_fraction=0.25), out=images / "clf").dir


@pytest.fixture(scope="module")
def autoencoder(images: Path) -> Path:
    return deepfeat.fit(config(images, "autoencoder", val_fraction=0.25, test_fraction=0.0), out=images / "ae").dir


NEW = [f"photo_{i}.png" for i in range(6)]
TRUTH = [CLASSES[i % 2] for i in range(6)]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_predict_names_each_new_image_read_with_the_runs_size_and_grayscale(classifier: Path, images: Path,
                                                                            caplog) -> None:
    with caplog.at_level("INFO", logger="deepfeat.run.new_data"):
        answers = deepfeat.predict(classifier, images / "new")
    assert answers.ids == NEW and answers.classes == list(CLASSES)
    assert answers.proba.shape == (6, 2) and np.allclose(answers.proba.sum(axis=1), 1, atol=1e-5)
    assert np.mean(answers.labels == np.array(TRUTH)) >= 5 / 6
    assert "size=8, grayscale=True" in caplog.text  # one line says what was taken from the run
    run = deepfeat.load(classifier)
    x = np.stack([np.asarray(Image.open(images / "train" / c / "00.png"), np.float32)[None] / 255 for c in CLASSES])
    assert list(run.predict(x)) == list(CLASSES) and run.predict_proba(x).shape == (2, 2)


def test_cli_embed_and_predict_write_one_row_per_file_with_its_id(classifier: Path, images: Path, monkeypatch) -> None:
    monkeypatch.chdir(images)  # `--data new`: a folder here, not a dataset name
    assert main(["embed", str(classifier), "--data", "new", "--out", "z.csv"]) == 0
    rows = read_csv(images / "z.csv")
    dim = deepfeat.load(classifier).learner.feature_dim
    assert [r["id"] for r in rows] == NEW and list(rows[0]) == ["id", *(f"f{i}" for i in range(dim))]
    assert main(["embed", str(classifier), "--data", "train", "--out", "z.npy"]) == 0
    assert np.load(images / "z.npy").shape == (24, dim)
    ids = (images / "z.ids.txt").read_text().split()
    assert ids == [f"{c}/{i:02d}.png" for c in CLASSES for i in range(12)]
    assert main(["predict", str(classifier), "--data", "new", "--out", "p.csv"]) == 0
    rows = read_csv(images / "p.csv")
    assert list(rows[0]) == ["id", "label", "p_bars", "p_stripes"] and [r["id"] for r in rows] == NEW
    assert all(r["label"] == max(CLASSES, key=lambda c: float(r[f"p_{c}"])) for r in rows)


def test_predict_to_parquet_keeps_ids_and_class_columns(classifier: Path, images: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    deepfeat.predict(classifier, str(images / "new"), out=tmp_path / "p.parquet")
    table = pq.read_table(tmp_path / "p.parquet").to_pydict()
    assert table["id"] == NEW and set(table) == {"id", "label", "p_bars", "p_stripes"}


def test_data_that_names_nothing_or_misses_its_folder_is_one_line(classifier: Path, images: Path, capsys,
                                                                  monkeypatch) -> None:
    monkeypatch.chdir(images)
    assert main(["predict", str(classifier), "--data", "imgs"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no file or folder at" in err and "image_folder" in err
    assert main(["predict", str(classifier), "--data", "image_folder"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing key 'data.root'" in err
    assert main(["predict", str(classifier), "--data", "{name: image_folder, root: new}"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("photo_0.png,")


def test_score_writes_each_files_score_and_decision_at_the_stored_threshold(autoencoder: Path, images: Path,
                                                                            tmp_path: Path) -> None:
    assert main(["score", str(autoencoder), "--data", str(images / "new"), "--out", str(tmp_path / "s.csv")]) == 0
    rows = read_csv(tmp_path / "s.csv")
    threshold = deepfeat.api.stored_threshold(autoencoder)
    assert [r["id"] for r in rows] == NEW and list(rows[0]) == ["id", "score", "anomaly"]
    assert all(int(r["anomaly"]) == (float(r["score"]) > threshold) for r in rows)
    assert main(["denoise", str(autoencoder), "--data", str(images / "new"), "--out", str(tmp_path / "d.npy")]) == 0
    assert np.load(tmp_path / "d.npy").shape == (6, 1, 8, 8)
    assert (tmp_path / "d.ids.txt").read_text().split() == NEW


def test_predict_with_a_run_that_does_not_classify_says_so(autoencoder: Path, images: Path) -> None:
    with pytest.raises(ConfigError, match="expected a learner that classifies"):
        deepfeat.predict(autoencoder, images / "new")


def test_rows_of_a_table_are_their_ids(classifier: Path, tmp_path: Path) -> None:
    x = np.random.default_rng(0).random((5, 64)).astype(np.float32)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    answers = deepfeat.predict(classifier, tmp_path / "x.csv")
    assert answers.ids == ["0", "1", "2", "3", "4"] and answers.proba.shape == (5, 2)


def test_a_parquet_output_without_pyarrow_is_one_line(classifier: Path, images: Path, tmp_path: Path,
                                                      monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    with pytest.raises(ConfigError, match=r"deepfeat\[tables\]"):
        deepfeat.embed(classifier, images / "new", tmp_path / "z.parquet")
    assert not (tmp_path / "z.parquet").exists()


def tone(freq: float, rate: int, seconds: float) -> np.ndarray:
    return 0.5 * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate).astype(np.float32)


def test_recordings_are_read_at_the_runs_rate_and_named_by_file(tmp_path: Path) -> None:
    sf = pytest.importorskip("soundfile", reason="audio needs the 'audio' extra: pip install 'deepfeat[audio]'")
    pytest.importorskip("torchaudio", reason="audio needs the 'audio' extra: pip install 'deepfeat[audio]'")
    for name, freq in (("high", 1500.0), ("low", 200.0)):
        (tmp_path / "train" / name).mkdir(parents=True)
        for i in range(6):
            sf.write(tmp_path / "train" / name / f"{i}.wav", tone(freq + 10 * i, 8000, 0.25), 8000)
    (tmp_path / "new").mkdir()
    for i, freq in enumerate((1520.0, 210.0, 1480.0)):  # another rate than training's: resampled on reading
        sf.write(tmp_path / "new" / f"rec_{i}.wav", tone(freq, 16000, 0.25), 16000)
    cfg = {**TINY, "learner": {"name": "classifier"},
           "data": {"name": "audio_folder", "root": str(tmp_path / "train"), "sample_rate": 8000, "duration": 0.25,
                    "val_fraction": 0.0, "test_fraction": 0.25}}
    run = deepfeat.fit(cfg, out=tmp_path / "run")
    assert main(["predict", str(run.dir), "--data", str(tmp_path / "new"), "--out", str(tmp_path / "p.csv")]) == 0
    assert [r["id"] for r in read_csv(tmp_path / "p.csv")] == ["rec_0.wav", "rec_1.wav", "rec_2.wav"]
    assert main(["embed", str(run.dir), "--data", str(tmp_path / "train"), "--out", str(tmp_path / "z.npy")]) == 0
    assert np.load(tmp_path / "z.npy").shape == (12, run.learner.feature_dim)
    assert (tmp_path / "z.ids.txt").read_text().split()[:2] == ["high/0.wav", "high/1.wav"]


def test_new_texts_without_labels_get_the_runs_vocabulary_and_row_ids(tmp_path: Path) -> None:
    import json

    rng = np.random.default_rng(0)
    words = (["see", "you", "at", "home"], ["win", "free", "prize", "cash"])
    rows = [{"text": " ".join(rng.choice(words[k], 5)), "label": ("ham", "spam")[k]} for k in (0, 1) * 30]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "new.csv").write_text("text\nwin free cash now\nsee you at home\nprize prize\n")  # no label column
    cfg = {**TINY, "encoder": {"name": "text_cnn"}, "learner": {"name": "classifier"},
           "data": {"name": "text_csv", "path": str(tmp_path / "train.jsonl"), "tokenizer": {"name": "word",
                                                                                              "max_length": 8}}}
    run = deepfeat.fit(cfg, out=tmp_path / "run")
    answers = deepfeat.predict(run.dir, tmp_path / "new.csv")
    assert answers.ids == ["0", "1", "2"] and list(answers.labels) == ["spam", "ham", "spam"]
