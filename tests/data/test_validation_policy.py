"""The small-data validation policy: no tiny validation split by default, no silent monitor fallback."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from deepfeat.data.bundle import from_arrays
from deepfeat.data.validation_policy import MIN_VAL_SAMPLES, plan_monitor, resolve_val_fraction
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.learners.build import build_learner


def test_auto_fraction_holds_out_only_enough_samples() -> None:
    assert resolve_val_fraction(None, 50) == 0.0  # would be 5 samples
    assert resolve_val_fraction(None, 294) == 0.0  # 29 samples
    assert resolve_val_fraction(None, 300) == 0.1  # 30 samples
    assert resolve_val_fraction(0.2, 50) == 0.2  # an explicit fraction is obeyed


def test_small_data_keeps_every_sample_for_training_large_data_gets_a_split() -> None:
    rng = np.random.default_rng(0)
    small = from_arrays(rng.normal(size=(60, 4)), np.arange(60) % 2, test_fraction=0.0)
    assert small.val is None and len(small.train) == 60
    large = from_arrays(rng.normal(size=(600, 4)), np.arange(600) % 2, test_fraction=0.0)
    assert large.val is not None and len(large.val) == 60 >= MIN_VAL_SAMPLES
    explicit = from_arrays(rng.normal(size=(60, 4)), np.arange(60) % 2, test_fraction=0.0, val_fraction=0.2)
    assert len(explicit.val) == 12


def test_plan_without_validation_reads_train_metric_and_keeps_last_epoch() -> None:
    plan = plan_monitor("val/acc", True, None)
    assert (plan.monitor, plan.restore_best) == ("train/acc", False)
    assert "no validation split" in plan.message and "last epoch" in plan.message
    small = plan_monitor("val/acc", True, 7)
    assert (small.monitor, small.restore_best) == ("val/acc", True) and "7 validation samples" in small.message
    assert plan_monitor("val/acc", True, 200).message is None
    own = plan_monitor("train/loss", True, None)  # a train/ monitor was chosen on purpose: used as given
    assert (own.monitor, own.restore_best, own.message) == ("train/loss", True, None)


def test_trainer_prints_the_fallback_and_ends_with_the_last_epoch(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)).astype(np.float32)
    data = from_arrays(x, (x[:, 0] > 0).astype(int), test_fraction=0.0)
    learner = build_learner({"name": "classifier"}, data.info, {"name": "mlp", "hidden": [8]})
    cfg = TrainingConfig(epochs=4, batch_size=8, monitor="val/acc", mode="max", progress="none")
    trainer = Trainer(cfg)
    with caplog.at_level(logging.WARNING, logger="deepfeat"):
        result = trainer.fit(learner, data, optimizer={"name": "sgd", "lr": 0.5})
    assert any("no validation split" in r.message for r in caplog.records)
    assert (result.plan.monitor, result.plan.restore_best) == ("train/acc", False) and "train/acc" in result.best
    assert cfg.monitor == "val/acc" and cfg.restore_best is True  # the caller's config is left as it was
    assert trainer.best_state is None  # no best epoch kept to restore: the run ends with the last epoch's weights
