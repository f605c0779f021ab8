"""Supervised feature learning on real data: accuracy floors that a broken implementation would miss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import deepfeat

CONFIGS = Path(__file__).resolve().parents[2] / "examples" / "configs"
COMMON = {
    "data": {"name": "digits"},
    "evaluation": {"embedding_plots": [], "knn_k": [5]},
    "logging": {"plots": False, "report": False},
    "training": {"progress": "none"},
}


def test_mlp_on_digits_reaches_97_5_percent(tmp_path) -> None:
    run = deepfeat.fit({**COMMON, **deepfeat.load_config(CONFIGS / "digits_mlp.yaml").to_dict(),
                        "evaluation": COMMON["evaluation"], "logging": COMMON["logging"]},
                       out=tmp_path / "mlp", overrides=["training.progress=none"])
    assert run.results["test"]["test/acc"] >= 0.975, run.results["test"]
    # The features of a good classifier are good features: probes agree.
    assert run.results["evaluations"]["linear_probe"]["accuracy"] >= 0.95


@pytest.mark.slow
def test_cnn_on_digits_reaches_99_percent(tmp_path) -> None:
    cfg = deepfeat.load_config(CONFIGS / "digits_cnn.yaml").to_dict()
    cfg.update(evaluation=COMMON["evaluation"], logging=COMMON["logging"])
    run = deepfeat.fit(cfg, out=tmp_path / "cnn", overrides=["training.progress=none", "training.threads=2"])  # as make demo runs it
    assert run.results["test"]["test/acc"] >= 0.99, run.results["test"]
    assert run.results["fit"]["precision"] in ("bf16", "fp32")


def test_classifier_on_unlabelled_data_is_a_clear_error() -> None:
    from deepfeat.data.bundle import from_arrays
    from deepfeat.errors import ConfigError
    from deepfeat.learners.build import build_learner

    info = from_arrays(torch.rand(20, 5).numpy(), None, kind="vector").info
    with pytest.raises(ConfigError, match="expected labelled data"):
        build_learner("classifier", info, "mlp")
