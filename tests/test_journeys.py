"""User journeys of the Get started page (docs/get-started.md), as written: your own file in, a trained run, answers
for new files out.

Each journey runs through the command line (``deepfeat.cli.main``), then through the Python API, on tiny data made
here and one or two epochs.
"""

from __future__ import annotations

import csv
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import yaml

import deepfeat
import deepfeat.api
from deepfeat.cli import main

FAST = {"training": {"epochs": 1, "batch_size": 16, "progress": "none"},
        "evaluation": {"embedding_plots": [], "protocol": []}, "logging": {"plots": False, "report": False}}
# The same as --set overrides: a page's `fit` line keeps its words and trains for one epoch.
QUICK = [w for key, value in (("training.epochs", 1), ("training.batch_size", 16), ("training.progress", "none"),
                              ("evaluation.embedding_plots", "[]"), ("evaluation.protocol", "[]"),
                              ("logging.plots", "false"), ("logging.report", "false"))
         for w in ("--set", f"{key}={value}")]
PAGE = Path(__file__).resolve().parents[1] / "docs" / "get-started.md"


def page_commands(heading: str, page: Path = PAGE) -> list[tuple[list[str], str]]:
    """The ``deepfeat ...`` lines of the bash blocks under ``heading`` (up to the next heading of its level or
    above) on ``page``, each as its arguments (``deepfeat`` left out) and its comment."""
    level, found, fence, lines = len(heading.split()[0]), False, None, []
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:]
        elif fence is None and re.match(rf"#{{1,{level}}} ", line):
            if found:
                break
            found = line == heading
        elif found and fence == "bash" and line.startswith("deepfeat "):
            lines.append(line)
    return [(shlex.split(line, comments=True)[1:], (re.split(r"\s{2,}# ", line, maxsplit=1) + [""])[1])
            for line in lines]


def run_page(commands: list[tuple[list[str], str]]) -> None:
    """Each command of the page as written (``fit`` with :data:`QUICK` appended), through the CLI; each must succeed."""
    for argv, _ in commands:
        assert main(argv + (QUICK if argv[0] == "fit" else [])) == 0, " ".join(argv)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in ``tmp_path``, so paths are written as on the page (relative to the working folder)."""
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


def test_a_table_with_a_label_column_one_class_autoencoder_scores_new_rows(here: Path, capsys) -> None:
    rng = np.random.default_rng(0)
    x, labels = rng.normal(size=(80, 3)).round(3), ["normal", "normal", "normal", "odd"] * 20
    x[3::4] += 4.0
    _write_csv("rows.csv", ["a", "b", "c", "label"], [[*r, lab] for r, lab in zip(x, labels)])
    new = np.vstack([rng.normal(size=(4, 3)), [[6.0, 6.0, 6.0]]]).round(3)
    _write_csv("new_rows.csv", ["a", "b", "c"], new.tolist())
    commands = page_commands("### A table (CSV)")
    (table,) = [yaml.safe_load(comment) for argv, comment in commands if "table.yaml" in argv]
    _config("table.yaml", **table, encoder={"name": "mlp", "hidden": [8]})

    run_page(commands)  # fit --data rows.csv, predict, fit -c table.yaml, score
    assert "id,label,probability\n0," in capsys.readouterr().out
    rows = _rows("s.csv")
    assert [r["id"] for r in rows] == ["0", "1", "2", "3", "4"] and {"score", "anomaly"} <= set(rows[0])
    assert all(float(r["score"]) >= 0 and r["anomaly"] in ("0", "1") for r in rows)

    run = deepfeat.fit("table.yaml", out="runs/table2")
    assert run.results["data"]["split_classes"]["train"] == ["normal"]
    path, summary = deepfeat.api.score_file(run, "new_rows.csv", "s2.csv")
    assert summary["samples"] == 5 and [r["id"] for r in _rows(str(path))] == ["0", "1", "2", "3", "4"]

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from deepfeat.sklearn import DeepAnomalyDetector

    table = np.genfromtxt("rows.csv", delimiter=",", names=True, dtype=None, encoding="utf-8")
    normal = np.column_stack([table[c] for c in "abc"])[table["label"] == "normal"]
    detector = make_pipeline(StandardScaler(), DeepAnomalyDetector(epochs=10, random_state=0)).fit(normal)
    assert set(detector.predict(new)) <= {-1, 1} and detector.predict(new)[-1] == -1  # the far row is an outlier
    assert detector.score_samples(new)[-1] < detector.score_samples(new)[:4].min()


def page_python(contains: str) -> str:
    """The page's python block holding ``contains``."""
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S) if contains in b]
    return block


def test_a_series_file_with_labels_then_predict_on_a_new_npy(here: Path) -> None:
    exec(compile(page_python('"series.npz"'), "get-started.md", "exec"), {})  # noqa: S102 - series.npz, new_series.npy
    series = page_commands("### Series")
    assert [argv[0] for argv, _ in series] == ["examples", "fit", "predict"]

    run_page(series)  # copy the example config out, fit it on series.npz, predict new_series.npy
    rows = _rows("answers.csv")
    assert [r["id"] for r in rows] == [str(i) for i in range(10)] and list(rows[0]) == ["id", "label", "p_0", "p_1"]

    cfg = _config("series.yaml", data={"name": "arrays", "path": "series.npz"},
                  encoder={"name": "fcn", "channels": [8, 8, 8]})
    answers = deepfeat.predict(deepfeat.fit(cfg, out="runs/series2"), "new_series.npy")
    assert answers.proba.shape == (10, 2) and np.allclose(answers.proba.sum(1), 1, atol=1e-5)


def test_a_text_file_of_one_message_per_line_is_embedded_and_predicted(here: Path) -> None:
    _write_csv("messages.csv", ["text", "label"],
               [row for i in range(24) for row in ([f"win a free prize now {i}", "spam"],
                                                    [f"see you at lunch today {i}", "ham"])])
    Path("new_messages.txt").write_text("WIN a free prize\nlunch today?\n\nsee you soon\n")
    text = page_commands("### Text")
    text = [c for c in text if "runs/text" in c[0]]
    cfg = _config("text.yaml", **yaml.safe_load(text[0][1]))  # the fit line's comment: its data and encoder

    run_page(text)  # fit, embed, predict
    assert [r["id"] for r in _rows("z.csv")] == ["0", "1", "2"]  # one row per message; the blank line is none
    assert list(_rows("answers.csv")[0]) == ["id", "label", "p_ham", "p_spam"]
    assert {r["label"] for r in _rows("answers.csv")} <= {"ham", "spam"}

    run = deepfeat.fit(cfg, out="runs/text2")
    z = np.load(deepfeat.embed(run, "new_messages.txt", "z.npy"))
    assert Path("z.ids.txt").read_text().split() == ["0", "1", "2"] and z.shape == (3, run.learner.feature_dim) and np.isfinite(z).all()
    assert len(deepfeat.predict(run, "new_messages.txt").labels) == 3


def _drawing(k: int, rng: np.random.Generator) -> np.ndarray:
    """An 8x8 image of class ``k``: a bright vertical (0) or horizontal (1) band over noise."""
    img = rng.integers(0, 60, (8, 8)).astype(np.uint8)
    img[(slice(None), slice(2, 4)) if k == 0 else (slice(2, 4), slice(None))] = 255
    return img


@pytest.mark.parametrize("mode, channels", [("L", 1), ("RGB", 3)])
def test_a_folder_of_pngs_then_answers_for_new_images(here: Path, mode: str, channels: int, capsys) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="the page's z.parquet needs the 'tables' extra")
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, name in enumerate(("cat", "dog")):
        (here / "photos" / name).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(_drawing(k, rng)).convert(mode).save(here / "photos" / name / f"{i}.png")
    (here / "new_photos").mkdir()
    new = [f"new_{i}.png" for i in range(4)]
    for i, name in enumerate(new):
        Image.fromarray(_drawing(i % 2, rng)).convert(mode).save(here / "new_photos" / name)
    commands = page_commands("### A folder of images")
    commands += page_commands("## Searching a collection: `index` and `neighbors`", PAGE.parent / "guides" / "explorer.md")
    _config("pets.yaml", **yaml.safe_load(commands[0][1]))  # the fit line's comment: its data
    deepfeat.fit({**FAST, **yaml.safe_load(commands[0][1]), "learner": {"name": "autoencoder"}}, out="runs/anom")

    run_page(commands)  # fit, predict (printed, .csv), embed .parquet, score, predict a spec; index, neighbors
    data = yaml.safe_load(Path("runs/pets/config.yaml").read_text())["data"]
    assert data["grayscale"] is (channels == 1) and deepfeat.load("runs/pets").info.input_shape[0] == channels
    printed = [line.split(",")[0] for line in capsys.readouterr().out.splitlines() if line.startswith("new_")]
    assert printed == new * 4  # the printed predict, the one of a spec, then both neighbors commands
    assert list(_rows("answers.csv")[0]) == ["id", "label", "p_cat", "p_dog"]
    assert [r["id"] for r in _rows("answers.csv")] == pq.read_table("z.parquet").column("id").to_pylist() == new
    assert [r["id"] for r in _rows("s.csv")] == new

    answers = deepfeat.predict("runs/pets", "new_photos")
    assert answers.ids == new and answers.classes == ["cat", "dog"] and answers.proba.shape == (4, 2)
    z = np.load(deepfeat.embed("runs/pets", "new_photos", "z.npy"))
    assert Path("z.ids.txt").read_text().split() == new and len(z) == 4


def test_a_folder_of_wavs_then_features_and_answers_for_new_recordings(here: Path) -> None:
    sf = pytest.importorskip("soundfile", reason="audio needs the 'audio' extra: pip install 'deepfeat[audio]'")
    pytest.importorskip("torchaudio", reason="audio needs the 'audio' extra: pip install 'deepfeat[audio]'")
    commands = page_commands("### Recordings")
    data = yaml.safe_load(commands[0][1])["data"]  # the fit line's comment: root my_sounds, 16 kHz, 2 s
    t = np.arange(4000) / 8000  # recordings of 0.5 s at 8 kHz: resampled and padded as in training
    for name, freq in (("high", 1500.0), ("low", 200.0)):
        (here / data["root"] / name).mkdir(parents=True)
        for i in range(6):
            sf.write(here / data["root"] / name / f"{i}.wav", 0.5 * np.sin(2 * np.pi * (freq + 10 * i) * t), 8000)
    (here / "some_folder_of_wavs").mkdir()
    for i, freq in enumerate((1520.0, 210.0, 1480.0)):
        sf.write(here / "some_folder_of_wavs" / f"rec_{i}.wav", 0.5 * np.sin(2 * np.pi * freq * t), 8000)
    _config("sounds.yaml", data=data, encoder={"name": "mlp", "hidden": [8]})
    ids = ["rec_0.wav", "rec_1.wav", "rec_2.wav"]

    run_page(commands)  # fit, embed, predict
    assert np.load("f.npy").shape[0] == 3 and Path("f.ids.txt").read_text().split() == ids
    assert list(_rows("p.csv")[0]) == ["id", "label", "p_high", "p_low"]
    assert [r["id"] for r in _rows("p.csv")] == ids and {r["label"] for r in _rows("p.csv")} <= {"high", "low"}
    _config("sounds_ae.yaml", data=data, encoder={"name": "mlp", "hidden": [8]}, learner={"name": "autoencoder"})
    assert main(["fit", "-c", "sounds_ae.yaml", "--out", "runs/sounds_ae"]) == 0
    assert main(["score", "runs/sounds_ae", "--data", "some_folder_of_wavs", "--out", "s.csv"]) == 0
    assert [r["id"] for r in _rows("s.csv")] == ids

    run = deepfeat.fit("sounds.yaml", out="runs/sounds2")
    assert run.info.input_shape == (1, 32000)
    assert deepfeat.predict(run, "some_folder_of_wavs").ids == ids
    path, summary = deepfeat.api.score_file("runs/sounds_ae", "some_folder_of_wavs", "s2.csv")
    assert summary["samples"] == 3
