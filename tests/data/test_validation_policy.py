"""The small-data validation policy: no tiny validation split by default, no silent monitor fallback."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from deepfeat.data.bundle import from_arrays
from deepfeat.data.validation_policy import (MAX_EPOCHS, MIN_EPOCHS, MIN_VAL_SAMPLES, TARGET_STEPS, SchedulePlan,
                                            plan_monitor, plan_schedule, resolve_val_fraction)
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.learners.build import build_learner


def test_auto_fraction_holds_out_only_enough_samples() -> None:
    assert resolve_val_fraction(None, 50) == 0.0  # would be 5 samples
    assert resolve_val_fraction(None, 294) == 0.0  # 29 samples
    assert resolve_val_fraction(None, 300) == 0.1  # 30 samples
    assert resolve_val_fraction(0.2, 50) == 0.2  # an explicit fraction is obeyed


def test_auto_schedule_targets_a_number_of_steps_from_hundreds_to_millions_of_samples() -> None:
    digits = plan_schedule(None, None, 1437)  # 12 batches of 128 per epoch
    assert (digits.batch_size, digits.epochs) == (128, -(-TARGET_STEPS // 12))
    assert digits.message == (f"training.epochs auto: {digits.epochs} (about {digits.epochs * 12:,} steps of batch 128 "
                              "(auto) on 1,437 samples)")
    assert plan_schedule(None, None, 60).batch_size == 60  # full batch below 128 samples...
    assert plan_schedule(None, None, 60).epochs == MAX_EPOCHS  # ... and at most MAX_EPOCHS of them
    assert plan_schedule(None, None, 2_000_000).epochs == MIN_EPOCHS  # one epoch would pass the target: the floor rules
    assert plan_schedule(None, 32, 1437).epochs == -(-TARGET_STEPS // 45)  # a given batch size sets the epoch's steps


def test_an_explicit_schedule_is_obeyed_and_a_given_half_is_kept() -> None:
    assert plan_schedule(10, 128, 1437) == SchedulePlan(10, 128, None)  # the former defaults, given: no message
    assert plan_schedule(7, None, 50).epochs == 7 and plan_schedule(7, None, 50).batch_size == 50
    assert "training.batch_size auto: 50" in (plan_schedule(7, None, 50).message or "")
    assert plan_schedule(None, 16, 1437).batch_size == 16


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
