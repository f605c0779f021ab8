"""After training each split is forwarded once, for exactly what the run's evaluations and figures declared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import deepfeat
import deepfeat.run.outputs as outputs_module
from deepfeat.data.datasets import load_dataset
from deepfeat.engine.device import resolve_precision
from deepfeat.learners.build import build_learner
from deepfeat.run.outputs import SplitOutputs

RUN = {"data": {"name": "digits", "val_fraction": 0.1, "test_fraction": 0.2}, "encoder": {"name": "mlp", "hidden": [16]},
       "learner": {"name": "classifier"}, "training": {"epochs": 1, "batch_size": 64, "progress": "none"},
       "logging": {"plots": True, "report": False}}


@pytest.fixture
def passes(monkeypatch) -> list[tuple[int, list[str]]]:
    """Every pass over a split: (split length, outputs computed)."""
    seen: list[tuple[int, list[str]]] = []
    one_pass = outputs_module.one_pass

    def spy(learner, split, precision, names, *args, **kwargs):
        seen.append((len(split), sorted(names)))
        return one_pass(learner, split, precision, names, *args, **kwargs)

    monkeypatch.setattr(outputs_module, "one_pass", spy)
    return seen


def test_no_protocol_forwards_the_test_split_once_and_never_the_training_split(tmp_path: Path, passes) -> None:
    run = deepfeat.fit({**RUN, "evaluation": {"protocol": [], "embedding_plots": []}}, out=tmp_path / "r")
    assert [names for _, names in passes] == [["embed", "metrics", "predict_proba"]]  # embed: the explorer's map
    assert passes[0][0] == round(0.2 * 1797)  # the test split (digits: 1,797 samples, 20% held out)
    assert "test/acc" in run.results["test"] and (run.dir / "plots" / "confusion_matrix.png").is_file()


def test_protocols_add_one_pass_over_the_training_split(tmp_path: Path, passes) -> None:
    deepfeat.fit({**RUN, "evaluation": {"protocol": ["knn"], "knn_k": [5], "embedding_plots": ["pca"]}}, out=tmp_path / "r")
    assert [names for _, names in passes] == [["embed", "metrics", "predict_proba"], ["embed"]]
    assert passes[1][0] > passes[0][0]  # the second pass is the (larger) training split


def test_a_cached_output_matches_the_learner_methods_and_is_computed_once() -> None:
    """Oracle: the shared pass gives what embed / predict_proba / validation_step give one by one."""
    torch.manual_seed(0)
    data = load_dataset({"name": "digits"}, val_fraction=0.1, test_fraction=0.2)
    learner = build_learner("classifier", data.info, {"name": "cnn", "channels": [4, 8], "norm": "batch"}).eval()
    precision = resolve_precision("fp32", torch.device("cpu"), learner)
    cache = SplitOutputs(learner, data, precision, batch_size=100, limit=150).want([("eval", "embed"), ("eval", "metrics")])
    z, y = cache.get("eval", "embed")
    probs, _ = cache.get("eval", "predict_proba")  # not declared: one more pass, then cached
    metrics = cache.metrics("eval")
    assert cache.passes == 2 and cache.get("eval", "embed")[0] is z and cache.passes == 2
    x, labels = data.test.x, data.test.y
    with torch.no_grad():
        assert np.allclose(z, learner.embed(x[:150]).numpy(), atol=1e-5) and z.shape[0] == 150
        assert np.allclose(probs, learner.predict_proba(x[:150]).numpy(), atol=1e-5)
        full = learner.validation_step((x, labels))  # metrics cover the whole split, not only the first 150
    assert np.array_equal(y, labels[:150].numpy())
    assert metrics["test/acc"] == pytest.approx(float(full["acc"]), abs=1e-6)
    assert metrics["test/loss"] == pytest.approx(float(full["loss"]), rel=1e-5)
