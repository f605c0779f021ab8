"""SimCLR: NT-Xent against an independent computation, augmentations, health, and a quality check on digits."""

from __future__ import annotations

import logging
import math

import pytest
import torch

import deepfeat  # noqa: F401  (registers everything)
from deepfeat.data.augment import ImageAugment, SequenceAugment, build_augment
from deepfeat.data.datasets import load_dataset
from deepfeat.engine.device import Precision
from deepfeat.engine.inference import collect
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.eval.probes import knn_accuracy
from deepfeat.learners.build import build_learner
from deepfeat.learners.contrastive_losses import nt_xent
from deepfeat.run.observers import CollapseWarning


def _nt_xent_loop(z1: torch.Tensor, z2: torch.Tensor, t: float) -> float:
    """Chen et al. 2020, Algorithm 1, written out anchor by anchor in float64."""
    z = [v / v.norm() for v in torch.cat([z1, z2]).double()]
    n, b = len(z), len(z1)
    total = 0.0
    for i in range(n):
        j = (i + b) % n
        denom = sum(math.exp(float(z[i] @ z[k]) / t) for k in range(n) if k != i)
        total += -math.log(math.exp(float(z[i] @ z[j]) / t) / denom)
    return total / n


@pytest.mark.parametrize("t", [0.1, 0.5, 1.0])
def test_nt_xent_matches_independent_computation(t: float) -> None:
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    assert nt_xent(z1, z2, t).item() == pytest.approx(_nt_xent_loop(z1, z2, t), rel=1e-5)
    # identical views at a low temperature: the partner is found with near certainty
    assert nt_xent(z1, z1, 0.05).item() < nt_xent(z1, z2, 0.05).item()


def test_image_augment_is_seeded_and_shape_preserving() -> None:
    x = torch.randn(16, 3, 12, 12)
    aug = ImageAugment(blur_p=1.0)
    a = aug(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, aug(x, torch.Generator().manual_seed(0)))
    assert not torch.allclose(a, aug(x, torch.Generator().manual_seed(1)))
    whole = ImageAugment(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), jitter=0.0, blur_p=0.0)
    torch.testing.assert_close(whole(x, torch.Generator()), x, atol=1e-5, rtol=0)  # full crop, no flip: identity
    flipped = ImageAugment(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip=True, jitter=0.0, blur_p=0.0)(x, torch.Generator().manual_seed(0))
    mirrored = [torch.allclose(flipped[i], x[i].flip(-1), atol=1e-5) for i in range(16)]
    assert 0 < sum(mirrored) < 16  # flips only when asked, for about half the batch


def test_sequence_augment_and_auto_choice() -> None:
    x = torch.randn(8, 2, 50)
    aug = build_augment("auto", "sequence")
    assert isinstance(aug, SequenceAugment)
    out = aug(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.equal(out, aug(x, torch.Generator().manual_seed(0)))
    assert SequenceAugment(jitter=0.0, scale=0.0, crop=(1.0, 1.0))(x, torch.Generator()).equal(x)
    from deepfeat.data.info import DataInfo
    from deepfeat.nn.audio_augment import WaveAugment

    audio = DataInfo("sequence", (1, 800), reader={"sample_rate": 8000, "duration": 0.1})
    learner = build_learner({"name": "simclr"}, audio, {"name": "tcn", "channels": [4]})
    assert isinstance(learner.augment, WaveAugment)  # waveforms get audio views, not crop-and-resize


def test_collapse_warning_fires_only_on_collapse(caplog) -> None:
    cb = CollapseWarning(min_std=0.05, min_rank=2.0)
    with caplog.at_level(logging.WARNING, logger="deepfeat"):
        cb.on_epoch_end(None, 0, {"train/feature_std": 0.8, "train/effective_rank": 30.0})
        cb.on_epoch_end(None, 1, {"train/feature_std": 0.01, "train/effective_rank": 1.1})
    assert cb.collapsed_epochs == [2] and "collapsing" in caplog.text


def test_views_rng_is_part_of_the_state() -> None:
    data = load_dataset("digits", val_fraction=0.0, test_fraction=0.0)
    learner = build_learner({"name": "simclr", "seed": 3}, data.info, {"name": "cnn", "channels": [8]})
    state = {k: v.clone() for k, v in learner.state_dict().items()}
    x = data.train.x[:8]
    learner.training_step((x, None))
    assert not torch.equal(learner.view_rng, state["view_rng"])
    learner.load_state_dict(state)
    g = torch.Generator().set_state(learner.view_rng)
    assert torch.equal(learner.views(x, g), learner.views(x, torch.Generator().set_state(state["view_rng"])))


def _knn(learner, data) -> float:
    precision = Precision(torch.device("cpu"), None, False)
    train_z, train_y = collect(learner, data.train, precision, learner.embed)
    test_z, test_y = collect(learner, data.test, precision, learner.embed)
    return knn_accuracy(train_z, train_y, test_z, test_y, k=[5])["accuracy"]


def test_simclr_beats_random_init_features_on_digits() -> None:
    data = load_dataset("digits", val_fraction=0.0, test_fraction=0.3)
    encoder = {"name": "cnn", "channels": [32, 64]}
    learner = build_learner({"name": "simclr"}, data.info, encoder)
    random_acc = _knn(learner, data)
    config = TrainingConfig(epochs=8, batch_size=256, progress="none", precision="fp32", monitor="train/loss")
    result = Trainer(config, seed=0).fit(learner, data, optimizer={"name": "adamw", "lr": 3e-3})
    trained_acc = _knn(learner, data)
    health = result.history[-1]
    assert health["train/feature_std"] > 0.1 and health["train/effective_rank"] > 10  # not collapsed
    # random conv features are already good on digits (~94%); SimCLR must at least halve their error
    assert 1 - trained_acc < 0.5 * (1 - random_acc), (random_acc, trained_acc)
