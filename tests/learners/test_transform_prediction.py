"""Transformation prediction (Golan & El-Yaniv 2018): distinct shape-keeping transformations per kind of sample,
a score that rises when they are not recognized, one-class digits, and `deepfeat score` on its run."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import deepfeat
from deepfeat.api import anomaly_score
from deepfeat.data.datasets import load_dataset
from deepfeat.data.info import DataInfo
from deepfeat.engine.device import Precision
from deepfeat.engine.inference import collect
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import ConfigError, TrainingError
from deepfeat.learners.build import build_learner
from deepfeat.learners.transform_prediction import image_transforms, series_transforms, translate


@pytest.mark.parametrize("shape, count", [((1, 6, 6), 72), ((2, 4, 6), 36), ((3, 20), 8), ((5,), 6)])
def test_transformations_keep_the_shape_and_differ(shape: tuple[int, ...], count: int) -> None:
    learner = build_learner({"name": "transform_prediction", "count": 6}, DataInfo("vector" if len(shape) == 1 else
                            "sequence" if len(shape) == 2 else "image", shape), {"name": "mlp", "hidden": [8]})
    x = torch.randn(3, *shape)
    outs = learner.transformed(x)
    assert len(outs) == count and all(o.shape == x.shape for o in outs)
    assert all(not torch.allclose(a, b) for i, a in enumerate(outs) for b in outs[i + 1:])
    if len(shape) == 1:  # fixed random affine maps: W_m x + b_m, the centre row's copies differ too
        zero = learner.transformed(torch.zeros(1, *shape))
        assert all(not torch.allclose(a, b) for i, a in enumerate(zero) for b in zero[i + 1:])
        torch.testing.assert_close(outs[1] - zero[1], x @ learner.tables.maps[1])
        with pytest.raises(TrainingError, match="centres"):
            learner.score_samples(x)
        learner.on_fit_end([(x, None)], lambda t: t, contextlib.nullcontext)
    assert learner.score_samples(x).shape == (3,)


def test_translation_shifts_and_reflects_the_border() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4)
    down = translate(x, 1, 0)
    assert torch.equal(down[..., 1:, :], x[..., :3, :]) and torch.equal(down[..., 0, :], x[..., 1, :])  # reflected row
    left = translate(x, 0, -1)
    assert torch.equal(left[..., :3], x[..., 1:]) and torch.equal(left[..., 3], x[..., 2])


def test_identity_first_and_text_refused() -> None:
    x = torch.randn(2, 1, 4, 4)
    assert len(image_transforms(4, 4)) == 8 and torch.equal(image_transforms(4, 4, 1)[0](x), x) and torch.equal(series_transforms()[0](x[:, 0]), x[:, 0])
    with pytest.raises(ConfigError, match="seq_autoencoder"):
        build_learner({"name": "transform_prediction"}, DataInfo("tokens", (10,)), {"name": "mlp"})


def test_one_class_digits_ranks_the_other_digits_as_anomalies() -> None:
    fp32 = Precision(torch.device("cpu"), None, False)
    aucs = []
    for digit in (0, 3, 8):
        data = load_dataset("digits", normal_classes=[digit])
        learner = build_learner({"name": "transform_prediction", "translate": False}, data.info,
                                {"name": "cnn", "channels": [16, 32]})
        config = TrainingConfig(epochs=10, batch_size=64, progress="none", precision="fp32", restore_best=False)
        Trainer(config, seed=0).fit(learner, data, optimizer={"name": "adam", "lr": 1e-3})
        scores, y = collect(learner.eval(), data.test, fp32, learner.score_samples)
        aucs.append(roc_auc_score(y != digit, scores))
    assert np.mean(aucs) > 0.85, aucs


def test_its_run_is_a_detector_that_deepfeat_score_uses(tmp_path: Path) -> None:
    cfg = {"data": {"name": "digits", "normal_classes": [0]}, "encoder": {"name": "cnn", "channels": [8]},
           "learner": {"name": "transform_prediction", "translate": False}, "training": {"epochs": 1, "batch_size": 64, "progress": "none"},
           "evaluation": {"embedding_plots": []}}
    run = deepfeat.fit(cfg, out=tmp_path / "geom")
    anomaly = run.results.evaluations["anomaly"]
    assert 0 <= anomaly["roc_auc"] <= 1 and "threshold" in anomaly
    data = load_dataset("digits")
    scores = anomaly_score(run, data.test.x[:10].numpy())
    assert scores.shape == (10,) and np.isfinite(scores).all()


@pytest.mark.parametrize("per_sample", [1, 3])
def test_transforms_per_sample_trains_on_distinct_random_copies(per_sample: int) -> None:
    learner = build_learner({"name": "transform_prediction", "transforms_per_sample": per_sample},
                            DataInfo("image", (1, 8, 8)), {"name": "cnn", "channels": [4]})
    x = torch.randn(5, 1, 8, 8)
    logits, target = learner._picked_logits(x, torch.Generator().manual_seed(0))
    assert logits.shape == (per_sample * 5, 72) and target.shape == (per_sample * 5,)
    assert all(len(set(target.view(per_sample, 5)[:, b].tolist())) == per_sample for b in range(5))  # distinct per sample
    copies = torch.cat(learner.transformed(x))  # each picked copy is that sample's transformation number target
    learner.encoder = torch.nn.Flatten()
    learner.head = torch.nn.Identity()
    picked, _ = learner._picked_logits(x, torch.Generator().manual_seed(0))
    rows = target * 5 + torch.arange(5).repeat(per_sample)
    torch.testing.assert_close(picked, copies.flatten(1)[rows])
    before = learner.pick_rng.clone()
    learner.training_step((x, None))
    assert not torch.equal(before, learner.pick_rng)  # the saved generator advances: a resume draws what follows


def test_score_uses_every_transformation_whatever_the_training() -> None:
    learner = build_learner({"name": "transform_prediction", "transforms_per_sample": 2},
                            DataInfo("image", (1, 8, 8)), {"name": "cnn", "channels": [4]}).eval()
    x = torch.randn(6, 1, 8, 8)
    logits, target = learner._logits(x)  # all 72 copies at once
    expected = torch.nn.functional.cross_entropy(logits, target, reduction="none").view(72, 6).mean(0)
    torch.testing.assert_close(learner.score_samples(x), expected)
    with pytest.raises(ConfigError, match="at most the 72"):
        build_learner({"name": "transform_prediction", "transforms_per_sample": 73}, DataInfo("image", (1, 8, 8)),
                      {"name": "cnn", "channels": [4]})


def test_one_random_transformation_per_sample_still_detects_other_digits() -> None:
    fp32 = Precision(torch.device("cpu"), None, False)
    data = load_dataset("digits", normal_classes=[3])
    learner = build_learner({"name": "transform_prediction", "translate": False, "transforms_per_sample": 1}, data.info,
                            {"name": "cnn", "channels": [16, 32]})
    config = TrainingConfig(epochs=20, batch_size=32, progress="none", precision="fp32", restore_best=False)
    Trainer(config, seed=0).fit(learner, data, optimizer={"name": "adam", "lr": 1e-3})
    scores, y = collect(learner.eval(), data.test, fp32, learner.score_samples)
    assert roc_auc_score(y != 3, scores) > 0.85
