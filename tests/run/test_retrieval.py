"""Retrieval with a trained run: an index in the run folder, neighbours from Python and the CLI."""

import copy
import csv
from pathlib import Path

import numpy as np
import pytest

import deepfeat
from deepfeat.cli import main
from deepfeat.errors import ConfigError
from deepfeat.extras import installed
from deepfeat.run.retrieval import build_index, neighbors, read_index
from deepfeat.data.datasets import load_dataset

TINY = {"data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [32, 16]},
        "optimizer": {"name": "adam", "lr": 0.003}, "training": {"epochs": 2, "batch_size": 128, "progress": "none"},
        "evaluation": {"protocol": ["retrieval"], "embedding_plots": []}, "logging": {"plots": False, "report": False}}


def raw_splits(run: deepfeat.Run):
    """The run's own splits, raw (the run normalizes what it embeds)."""
    return load_dataset(run.config.data, seed=run.config.seed, normalize=False)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("retrieval") / "run"
    deepfeat.fit(copy.deepcopy(TINY), out=out)
    return out


def test_neighbours_agree_with_the_evaluation_recall(digits_run: Path) -> None:
    run = deepfeat.load(digits_run)
    bundle = raw_splits(run)
    train_x, train_y = bundle.train.x.numpy(), bundle.train.y.numpy()
    test_x, test_y = bundle.test.x.numpy(), bundle.test.y.numpy()
    build_index(run, train_x)  # raw arrays: ids are row numbers of the training split
    found = run.neighbors(test_x, k=5)
    assert found.ids.shape == found.distances.shape == (len(test_x), 5)
    assert (np.diff(found.distances, axis=1) >= 0).all()  # nearest first
    agree = float(np.mean(train_y[found.ids[:, 0].astype(int)] == test_y))
    reported = run.results.evaluations["retrieval"]["recall_at_1"]
    assert agree == pytest.approx(reported, abs=1.5 / len(test_x))  # one tie may fall either way
    assert reported > 0.5


@pytest.mark.skipif(not installed("faiss"), reason="faiss-cpu is not installed (pip install 'deepfeat[faiss]')")
def test_exact_and_faiss_searches_return_the_same_neighbours(digits_run: Path) -> None:
    x = raw_splits(deepfeat.load(digits_run)).test.x.numpy()[:100]
    build_index(digits_run, "digits", metric="euclidean")
    exact, fast = (neighbors(digits_run, x, k=10, backend=name) for name in ("exact", "faiss"))
    np.testing.assert_array_equal(exact.ids, fast.ids)
    # Squared: near 0 (a query that is also indexed), float32 rounding of ||q||^2 - 2 q.a + ||a||^2 grows under sqrt.
    np.testing.assert_allclose(exact.distances ** 2, fast.distances ** 2, atol=1e-4)


def test_index_and_neighbors_from_the_command_line(digits_run: Path, tmp_path: Path, capsys) -> None:
    assert main(["index", str(digits_run), "--data", "digits", "--metric", "cosine"]) == 0
    assert "indexed 1797 samples (cosine distance)" in capsys.readouterr().out
    index = read_index(digits_run)
    assert len(index.ids) == 1797 and index.labels is not None and index.metric == "cosine"
    queries = tmp_path / "q.npy"
    np.save(queries, raw_splits(deepfeat.load(digits_run)).test.x.numpy()[:4])
    out = tmp_path / "nn.csv"
    assert main(["neighbors", str(digits_run), "--query", str(queries), "--k", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].startswith("0,") and len(printed[1].split(" ")) == 3
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 4 and list(rows[0])[:4] == ["id", "neighbor_1", "distance_1", "label_1"]
    assert float(rows[0]["distance_1"]) <= float(rows[0]["distance_3"])
    assert main(["neighbors", str(digits_run), "--query", str(queries), "--k", "0"]) == 2
    assert "k at neighbors: expected a whole number >= 1, got 0" in capsys.readouterr().err


def test_neighbors_without_an_index_says_how_to_build_one(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    deepfeat.fit(copy.deepcopy(TINY) | {"training": {"epochs": 1, "progress": "none"}}, out=run)
    with pytest.raises(ConfigError, match="deepfeat index"):
        neighbors(run, np.zeros((1, 64)), k=3)
    assert main(["neighbors", str(run), "--query", "digits"]) == 2
    assert "expected an index of the collection to search, got none" in capsys.readouterr().err


def test_retrieval_compares_features_by_the_metric_the_learner_declares_unless_told(learner_case) -> None:
    import torch

    from deepfeat.config import EvaluationConfig
    from deepfeat.engine.device import resolve_precision
    from deepfeat.learners.build import build_learner
    from deepfeat.run.evaluations.features import evaluate_learner

    data, encoder, spec = learner_case("autoencoder")  # an autoencoder's codes compare by position: euclidean
    data.test = data.train
    learner = build_learner(spec, data.info, encoder).eval()
    precision = resolve_precision("fp32", torch.device("cpu"), learner)
    for settings, metric in (({}, "euclidean"), ({"retrieval": {"metric": "cosine"}}, "cosine")):
        cfg = EvaluationConfig(protocol=["retrieval"], settings=settings, embedding_plots=[])
        results, _ = evaluate_learner(learner, data, cfg, precision)
        assert results["evaluations"]["retrieval"]["settings"]["metric"] == metric
