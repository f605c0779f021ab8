"""VICReg: its loss terms against an independent computation, health alarm, and a quality check on digits."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

import deepfeat  # noqa: F401  (registers everything)
from deepfeat.data.datasets import load_dataset
from deepfeat.data.info import DataInfo
from deepfeat.engine.device import Precision
from deepfeat.engine.inference import collect
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import ConfigError
from deepfeat.eval.probes import knn_accuracy
from deepfeat.learners.build import build_learner
from deepfeat.learners.vicreg import vicreg_terms
from deepfeat.run.ssl_health import SSLHealth


def _terms_numpy(z1: np.ndarray, z2: np.ndarray) -> tuple[float, float, float]:
    """Bardes et al. 2022, eq. 1-5, written out with numpy in float64."""
    inv = float(((z1 - z2) ** 2).mean())
    var = float(np.mean([np.maximum(0, 1 - np.sqrt(z.var(0, ddof=1) + 1e-4)).mean() for z in (z1, z2)]))
    cov = 0.0
    for z in (z1, z2):
        c = np.cov(z, rowvar=False)
        cov += float((c ** 2).sum() - (np.diag(c) ** 2).sum()) / z.shape[1]
    return inv, var, cov


def test_vicreg_terms_match_independent_computation() -> None:
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(16, 5, generator=g) * 0.5, torch.randn(16, 5, generator=g) * 2
    terms = vicreg_terms(z1, z2)
    inv, var, cov = _terms_numpy(z1.double().numpy(), z2.double().numpy())
    assert terms["invariance"].item() == pytest.approx(inv, rel=1e-5)
    assert terms["variance"].item() == pytest.approx(var, rel=1e-4)
    assert terms["covariance"].item() == pytest.approx(cov, rel=1e-4)
    same = torch.ones(16, 5)  # a collapsed batch: no variance, the hinge is at its maximum
    assert vicreg_terms(same, same)["variance"].item() == pytest.approx(1 - 1e-2, abs=1e-4)


def test_weights_are_checked() -> None:
    info = DataInfo("image", (1, 8, 8))
    with pytest.raises(ConfigError, match="expected numbers >= 0"):
        build_learner({"name": "vicreg", "variance_weight": -1}, info, {"name": "cnn", "channels": [8]})


def test_health_alarm_fires_only_on_collapse(caplog) -> None:
    obs = SSLHealth(min_std=0.05, min_rank=2.0, min_embedding_std=0.1)
    healthy = {"train/feature_std": 0.8, "train/effective_rank": 30.0, "train/embedding_std": 0.6,
               "train/variance": 0.3, "train/covariance": 1.0, "train/invariance": 0.1}
    with caplog.at_level(logging.WARNING, logger="deepfeat"):
        obs.on_epoch_end(None, 0, healthy)
        assert obs.collapsed_epochs == [] and "collapsing" not in caplog.text
        obs.on_epoch_end(None, 1, {**healthy, "train/embedding_std": 0.02})
    assert obs.collapsed_epochs == [2] and "embedding_std 0.02" in caplog.text
    summary = obs.summary()
    assert summary["collapsed"] and summary["last_epoch"]["variance"] == 0.3
    again = SSLHealth(0.05, 2.0, 0.1)
    again.load_state_dict(obs.state_dict())
    assert again.summary() == summary


def _knn(learner, data) -> float:
    fp32 = Precision(torch.device("cpu"), None, False)
    train_z, train_y = collect(learner, data.train, fp32, learner.embed)
    test_z, test_y = collect(learner, data.test, fp32, learner.embed)
    return knn_accuracy(train_z, train_y, test_z, test_y, k=[5])["accuracy"]


@pytest.mark.slow  # ~16 s on one thread
def test_vicreg_beats_random_init_features_on_digits_and_invariance_alone_collapses() -> None:
    data = load_dataset("digits", val_fraction=0.0, test_fraction=0.3)
    encoder = {"name": "cnn", "channels": [32, 64]}
    config = TrainingConfig(epochs=6, batch_size=128, progress="none", precision="fp32", monitor="train/loss")
    learner = build_learner({"name": "vicreg", "expander_dim": 256, "expander_hidden": 256}, data.info, encoder)
    random_acc = _knn(learner, data)
    health = Trainer(config, seed=0).fit(learner, data, optimizer={"name": "adamw", "lr": 3e-3}).history[-1]
    trained_acc = _knn(learner, data)
    assert health["train/embedding_std"] > 0.2 and health["train/effective_rank"] > 10  # not collapsed
    # random conv features are already good on digits (~94%); VICReg must cut their error by a quarter
    assert 1 - trained_acc < 0.75 * (1 - random_acc), (random_acc, trained_acc)
    # without the variance and covariance terms nothing stops the views from meeting at one point
    alone = build_learner({"name": "vicreg", "variance_weight": 0, "covariance_weight": 0, "expander_dim": 256,
                           "expander_hidden": 256}, data.info, encoder)
    collapsed = Trainer(config, seed=0).fit(alone, data, optimizer={"name": "adamw", "lr": 3e-3}).history[-1]
    assert collapsed["train/embedding_std"] < 0.5 * health["train/embedding_std"], (collapsed, health)
