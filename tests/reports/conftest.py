"""A fake but realistic run directory: 5 epochs of metrics, results, config and real plots."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from deepfeat.data.info import DataInfo
from deepfeat.reports import confusion_matrix_plot, embedding_map, save_figure, training_curves

TEST_ACC = 0.9375
COLUMNS = ["epoch", "step", "time_s", "lr", "train/loss", "train/acc", "val/loss", "val/acc"]


def write_metrics(run: Path, epochs: int = 5) -> None:
    """A metrics.csv shaped like the engine's: decaying loss, rising accuracy, one empty cell."""
    with (run / "metrics.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for e in range(1, epochs + 1):
            val_loss = "" if e == 2 else f"{0.9 / e + 0.05 * (e == epochs):.4f}"
            w.writerow([e, 40 * e, 3.1 * e, 1e-3 * 0.1 ** (e - 1), 2.3 / e, 0.5 + 0.09 * e, val_loss, 0.55 + 0.08 * e])


def write_results(run: Path) -> None:
    info = DataInfo("image", (1, 8, 8), 10, [str(i) for i in range(10)], [0.3], [0.2], "digits")
    results = {
        "data": info.to_dict(),
        "fit": {"epochs": 5, "steps": 200, "time_s": 15.5, "skipped_steps": 0, "stopped_early": False,
                "best_epoch": 4, "best": {"val/acc": 0.87}},
        "test": {"test/loss": 0.21, "test/acc": TEST_ACC},
        "evaluations": {
            "linear_probe": {"accuracy": 0.91, "settings": {"C": 1.0, "max_iter": 1000}},
            "knn": {"accuracy": 0.89, "settings": {"k": 20, "metric": "cosine"}},
        },
    }
    (run / "results.json").write_text(json.dumps(results))


def write_config(run: Path) -> None:
    config = {
        "data": {"name": "digits", "batch_size": 64},
        "encoder": {"name": "mlp", "hidden": [128, 64]},
        "optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.05},
        "logging": {"note": "<script>alert(1)</script>"},
        "seed": 0,
    }
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def digits_plots(run: Path) -> None:
    """Training curves, a PCA map of the digits pixels and a kNN confusion matrix."""
    from sklearn.datasets import load_digits
    from sklearn.neighbors import KNeighborsClassifier

    from deepfeat.reports import read_metrics

    save_figure(training_curves(read_metrics(run), best_epoch=4), run, "training_curves",
                title="Training curves", caption="Loss, accuracy and learning rate per epoch.")
    x, y = load_digits(return_X_y=True)
    save_figure(embedding_map(x, y, "pca", max_points=1000), run, "embedding_pca", title="Embedding map",
                caption="PCA of the test features.", section="Features")
    pred = KNeighborsClassifier(5).fit(x[:1000], y[:1000]).predict(x[1000:])
    save_figure(confusion_matrix_plot(y[1000:], pred, [str(i) for i in range(10)]), run, "confusion",
                title="Confusion matrix", caption="Test set, kNN on pixels.", section="Evaluation")


@pytest.fixture(scope="session")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete run directory with plots (built once per session: plotting is the slow part)."""
    run = tmp_path_factory.mktemp("run")
    write_metrics(run)
    write_results(run)
    write_config(run)
    digits_plots(run)
    return run


@pytest.fixture
def bare_run(tmp_path: Path) -> Path:
    """A run directory with metrics.csv, results.json and config.yaml but no plots."""
    write_metrics(tmp_path)
    write_results(tmp_path)
    write_config(tmp_path)
    return tmp_path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def preview_cases() -> dict[str, tuple[np.ndarray, DataInfo, str]]:
    """One sample set per registered preview (the feature explorer's): raw samples, data info, the tag each
    snippet holds."""
    return {
        "image_grid": (np.random.default_rng(0).random((3, 3, 8, 8)), DataInfo("image", (3, 8, 8)), "<img"),
        "spectrogram_player": (np.random.default_rng(0).normal(size=(3, 1, 800)),
                               DataInfo("sequence", (1, 800), reader={"sample_rate": 8000}), "<audio"),
        "series_plot": (np.random.default_rng(0).normal(size=(3, 2, 500)), DataInfo("sequence", (2, 500)), "<polyline"),  # two channels, two lines
        "text_table": (np.array([[2, 3, 0], [3, 0, 0], [2, 2, 2]]),
                       DataInfo("tokens", (3,), tokenizer={"name": "word", "vocab": ["<pad>", "<unk>", "<b>", "x&y"]}), "<p"),
        "feature_plot": (np.arange(30.0).reshape(3, 10), DataInfo("vector", (10,)), "<code"),
    }
