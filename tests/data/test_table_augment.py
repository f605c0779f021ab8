"""Table views for self-supervised learning (SCARF): a fixed share of each row's features taken from other rows."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

import deepfeat  # noqa: F401  (registers everything)
from deepfeat.data.augment import build_augment
from deepfeat.data.bundle import LoadOptions, make_bundle
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import ConfigError
from deepfeat.learners.build import build_learner


def test_auto_views_of_rows_corrupt_a_fixed_share_from_the_columns() -> None:
    x = torch.arange(64 * 10, dtype=torch.float32).view(64, 10)  # every value unique: where it came from shows
    aug = build_augment("auto", "vector")
    out = aug(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.equal(out, aug(x, torch.Generator().manual_seed(0)))
    assert not torch.equal(out, aug(x, torch.Generator().manual_seed(1)))
    assert ((out - x) % 10 == 0).all()  # a corrupted value is another row's value of the same feature
    changed = (out != x).sum(1)
    assert (changed <= 6).all() and changed.float().mean() > 5  # 60% picked; a donor may be the row itself
    assert torch.equal(build_augment({"name": "scarf", "corruption": 0.0}, "vector")(x, torch.Generator()), x)
    with pytest.raises(ConfigError, match="corruption"):
        build_augment({"name": "table", "corruption": 1.0}, "vector")


def test_vicreg_knn_learns_a_table_without_labels() -> None:
    raw = load_digits()  # 64-d rows: digit 0 normal, the other digits anomalies
    data = make_bundle(raw.data, raw.target, "vector", "digits_rows", class_names=[str(c) for c in range(10)],
                       **LoadOptions(normal_classes=(0,), val_fraction=None, test_fraction=0.3).kwargs())
    learner = build_learner({"name": "vicreg_knn", "knn_metric": "euclidean", "expander_dim": 64, "expander_hidden": 64},
                            data.info, {"name": "mlp", "hidden": [64, 32]})
    Trainer(TrainingConfig(epochs=15, batch_size=32, progress="none", threads=1, restore_best=False), seed=0).fit(
        learner, data, optimizer={"name": "adam", "lr": 1e-3})
    scores = learner.eval().score_samples(data.test.x)
    assert roc_auc_score((data.test.y != 0).numpy(), scores.numpy()) > 0.97
