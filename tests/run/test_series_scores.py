"""`deepfeat score` for a run trained on windows: a new series is cut as in training, scored per time point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("aeon")

from deepfeat.api import anomaly_score, fit, load, score_series
from deepfeat.cli.app import main
from deepfeat.data.windows import sliding_windows

LENGTH, STRIDE = 32, 8


@pytest.fixture(scope="module")
def windows_run(tmp_path_factory) -> Path:
    """A small autoencoder on windows of KDD-TSAD_135's normal part (a few seconds)."""
    out = tmp_path_factory.mktemp("windows") / "run"
    config = {"name": "w", "seed": 0, "data": {"name": "series_windows", "length": LENGTH, "stride": STRIDE},
              "encoder": {"name": "mlp", "hidden": [64]}, "learner": {"name": "autoencoder", "code_dim": 8},
              "optimizer": {"name": "adam", "lr": 3e-3}, "training": {"epochs": 8, "batch_size": 32, "threads": 1},
              "evaluation": {"protocol": [], "embedding_plots": []}, "logging": {"report": False, "plots": False}}
    return fit(config, out=out).dir


@pytest.fixture(scope="module")
def kdd_test(tmp_path_factory) -> tuple[np.ndarray, np.ndarray, Path]:
    from aeon.datasets import load_kdd_tsad_135

    x, y = load_kdd_tsad_135(split="test")
    path = tmp_path_factory.mktemp("series") / "kdd_test.npz"
    np.savez(path, x=x, y=y)
    return x, y, path


def test_the_run_declares_its_windows(windows_run: Path) -> None:
    assert load(windows_run).info.windows == {"length": LENGTH, "stride": STRIDE}


def test_cli_scores_every_point_from_the_windows_covering_it(windows_run, kdd_test, tmp_path, capsys) -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    x, y, path = kdd_test
    assert main(["score", str(windows_run), "--data", str(path), "--out", str(tmp_path / "p.csv")]) == 0
    table = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1)
    assert table.shape == (len(x), 3) and (table[:, 2] == y).all()
    # Independently: the windows' scores, each point the mean of the windows whose span holds it.
    windows, starts = sliding_windows(x, LENGTH, STRIDE)
    scores = anomaly_score(windows_run, windows)
    for t in (0, 100, 4190, len(x) - 1):
        covering = scores[(starts <= t) & (t < starts + LENGTH)]
        assert table[t, 0] == pytest.approx(covering.mean(), rel=1e-5)
    auc = roc_auc_score(y, table[:, 0])
    printed = capsys.readouterr().out
    assert f"point ROC-AUC {auc:.3f}" in printed and f"average precision {average_precision_score(y, table[:, 0]):.3f}" in printed
    assert auc > 0.9  # the anomaly (points 4187-4198) stands out even after a few epochs


def test_timeeval_csv_and_max_reduce(windows_run, kdd_test, tmp_path) -> None:
    x, y, _ = kdd_test
    csv = tmp_path / "series.csv"
    csv.write_text("timestamp,value,is_anomaly\n" + "".join(f"{t},{float(v)!r},{a}\n" for t, (v, a) in enumerate(zip(x, y))))
    assert main(["score", str(windows_run), "--data", str(csv), "--out", str(tmp_path / "p.npy"), "--reduce", "max"]) == 0
    points = np.load(tmp_path / "p.npy")
    expected = score_series(windows_run, x, y, reduce="max")
    np.testing.assert_allclose(points, expected["points"], rtol=1e-6)
    assert expected["metrics"]["roc_auc"] > 0.9


@pytest.mark.parametrize("series, expected", [
    (np.zeros(20), "expected at least 32 time points"),
    (np.zeros((2, 500)), "expected 1 channel"),
    (np.where(np.arange(500) == 7, np.nan, 0.0), "NaN or inf at 1 time points (first at t=7)"),
])
def test_bad_series_give_one_line(windows_run, tmp_path, capsys, series, expected) -> None:
    np.save(tmp_path / "bad.npy", series)
    assert main(["score", str(windows_run), "--data", str(tmp_path / "bad.npy"), "--out", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p.csv").exists()


def test_reduce_for_a_run_of_whole_samples_says_so(tmp_path, capsys) -> None:
    run = fit({"data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [16]}, "learner": {"name": "autoencoder"},
               "training": {"epochs": 1}, "evaluation": {"protocol": [], "embedding_plots": []},
               "logging": {"report": False, "plots": False}}, out=tmp_path / "r").dir
    assert main(["score", str(run), "--data", "digits", "--out", str(tmp_path / "s.csv"), "--reduce", "max"]) == 2
    assert "expected a run trained on windows of a series" in capsys.readouterr().err
