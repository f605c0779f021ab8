"""The evaluation protocol: each evaluator against a direct computation, pinned and recorded settings,
identical numbers on re-runs, and `deepfeat evaluate RUN --protocol ...` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.preprocessing import StandardScaler

import deepfeat
from deepfeat.cli import main
from deepfeat.errors import ConfigError
from deepfeat.eval import cluster_scores, feature_health, fewshot_accuracy, fingerprint, run_protocol
from deepfeat.eval.fewshot import draw_per_class
from deepfeat.eval.evaluations import evaluation_spec

ALL = ["linear", "knn", "cluster", "fewshot", "health"]


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    return x[:1200], y[:1200], x[1200:], y[1200:]


def test_cluster_matches_sklearn(digits) -> None:
    _, _, z, y = digits
    result = cluster_scores(z, y, n_init=3, l2_normalize=False, seed=1)
    assigned = KMeans(n_clusters=10, n_init=3, random_state=1).fit_predict(z.astype(np.float64))
    assert result["nmi"] == pytest.approx(normalized_mutual_info_score(y, assigned))
    assert result["ari"] == pytest.approx(adjusted_rand_score(y, assigned))
    assert result["nmi"] > 0.6 and result["ari"] > 0.4  # digits cluster by class; random labels give ~0
    noise = cluster_scores(np.random.default_rng(0).normal(size=z.shape), y, n_init=2)
    assert noise["nmi"] < 0.1 and abs(noise["ari"]) < 0.05


def test_fewshot_matches_a_direct_probe_and_grows_with_labels(digits) -> None:
    xtr, ytr, xte, yte = digits
    result = fewshot_accuracy(xtr, ytr, xte, yte, shots=[1, 10, 500], draws=2, seed=3)
    accs = []
    for draw in range(2):
        idx = draw_per_class(ytr, 10, np.random.default_rng([3, 10, draw]))
        assert np.array_equal(np.bincount(ytr[idx]), np.full(10, 10))
        scaler = StandardScaler().fit(xtr[idx])
        clf = LogisticRegression(max_iter=1000).fit(scaler.transform(xtr[idx]), ytr[idx])
        accs.append(clf.score(scaler.transform(xte), yte))
    assert result["accuracy_by_shots"][10] == pytest.approx(np.mean(accs))
    assert result["std_by_shots"][10] == pytest.approx(np.std(accs))
    assert result["skipped_shots"] == [500]  # no digit class has 500 training samples
    assert 0.3 < result["accuracy_by_shots"][1] < result["accuracy_by_shots"][10]


def test_health_against_numpy_and_on_collapse() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 16)) * np.r_[np.ones(4), np.full(12, 1e-3)]  # 4 used dimensions of 16
    result = feature_health(z)
    s = np.linalg.svd(z - z.mean(0), compute_uv=False)
    p = s / s.sum()
    assert result["effective_rank"] == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-4)
    assert 3.5 < result["effective_rank"] < 5.0
    unit = z / np.linalg.norm(z, axis=1, keepdims=True)
    assert result["normalized_std"] == pytest.approx(unit.std(0, ddof=1).mean() * 4, rel=1e-4)
    collapsed = feature_health(np.ones((50, 16)) + rng.normal(scale=1e-9, size=(50, 16)))
    assert collapsed["normalized_std"] < 1e-6 and collapsed["dead_fraction"] == 1.0
    assert feature_health(rng.normal(size=(2000, 16)))["normalized_std"] == pytest.approx(1.0, abs=0.05)


def test_protocol_records_settings_and_reproduces_them(digits) -> None:
    xtr, ytr, xte, yte = (a[:500] for a in digits)
    first = run_protocol(xtr, ytr, xte, yte, ",".join(ALL), {"fewshot": {"draws": 2}, "kmeans": {"n_init": 2}})
    assert list(first) == ["linear_probe", "knn", "cluster", "fewshot", "health"]
    for name, result in first.items():
        pinned = evaluation_spec(name).defaults
        assert set(pinned) <= set(result["settings"]), name  # every argument is recorded
        assert result["settings"]["eval_samples"] == len(xte)
    assert first["fewshot"]["settings"]["draws"] == 2 and first["cluster"]["settings"]["n_init"] == 2
    assert first["knn"]["settings"]["fingerprint"] == fingerprint(xtr, ytr, xte, yte)
    recorded = json.loads(json.dumps(first))
    again = run_protocol(xtr, ytr, xte, yte, list(recorded), {k: r["settings"] for k, r in recorded.items()})
    assert json.dumps(again) == json.dumps(first)
    assert fingerprint(xtr, ytr, xte + 1e-3, yte) != fingerprint(xtr, ytr, xte, yte)


def test_protocol_errors_and_unlabelled_data(digits) -> None:
    xtr, _, xte, _ = digits
    assert list(run_protocol(xtr, None, xte, None, ALL)) == ["health"]  # the others need labels
    with pytest.raises(ConfigError, match="Did you mean 'cluster'"):
        run_protocol(xtr, None, xte, None, ["clustr"])
    with pytest.raises(ConfigError, match="fewshot.drws.*Did you mean 'draws'"):
        run_protocol(xtr, None, xte, None, ["fewshot"], {"fewshot": {"drws": 2}})


def test_evaluate_a_run_with_the_protocol(tmp_path, capsys) -> None:
    config = {"data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [32]},
              "training": {"epochs": 2, "progress": "none"}, "logging": {"report": False},
              "evaluation": {"embedding_plots": [], "protocol_settings": {"fewshot": {"draws": 2}}}}
    run = deepfeat.fit(config, out=tmp_path / "run")
    assert set(run.results["evaluations"]) == {"linear_probe", "knn", "retrieval"}  # the default protocol
    assert run.results["evaluations"]["retrieval"]["settings"]["metric"] == "cosine"  # the classifier's own metric
    assert main(["evaluate", str(run.dir), "--protocol", "linear,knn,cluster,fewshot,health"]) == 0
    assert "cluster" in capsys.readouterr().out
    written = json.loads((run.dir / "results.json").read_text())["evaluations"]
    assert set(written) == {"linear_probe", "knn", "retrieval", "cluster", "fewshot", "health"}
    assert written["linear_probe"] == json.loads(json.dumps(run.results["evaluations"]["linear_probe"]))
    assert written["fewshot"]["settings"]["draws"] == 2
    assert (run.dir / "plots" / "fewshot_curve.png").is_file()
    again = deepfeat.evaluate(run.dir, protocol=["cluster", "fewshot", "health"])["evaluations"]
    assert json.loads(json.dumps(again)) == written  # identical numbers (JSON turns int keys into text)
