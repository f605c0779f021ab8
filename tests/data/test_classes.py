"""Class subsets: ``classes`` for every split, ``normal_classes`` for the one-class setup, by name or index."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from deepfeat.config import Config
from deepfeat.data.bundle import make_bundle
from deepfeat.data.classes import resolve_classes
from deepfeat.data.datasets import load_dataset
from deepfeat.errors import ConfigError


def test_classes_keep_a_subset_in_every_split_renumbered_in_the_given_order() -> None:
    full = load_dataset("digits", test_fraction=0.3)
    data = load_dataset("digits", test_fraction=0.3, classes=[9, "5", 7])  # an index, a name, an index
    assert data.info.num_classes == 3 and data.info.class_names == ["9", "5", "7"]
    for split in (data.train, data.val, data.test):
        assert set(split.y.unique().tolist()) == {0, 1, 2}
    # The same samples as the full split's 9s, 5s and 7s (the split does not depend on the subset).
    nines = full.test.x[full.test.y == 9]
    torch.testing.assert_close(data.test.x[data.test.y == 0] * torch.tensor(data.info.std) + torch.tensor(data.info.mean),
                               nines * torch.tensor(full.info.std) + torch.tensor(full.info.mean), atol=1e-4, rtol=1e-4)
    assert data.info.split_classes == {"train": ["9", "5", "7"], "val": ["9", "5", "7"], "test": ["9", "5", "7"]}


def test_classes_filter_a_source_test_split_too() -> None:
    x, y = np.random.default_rng(0).normal(size=(60, 4)), np.repeat([0, 1, 2], 20)
    data = make_bundle(x, y, "vector", class_names=["a", "b", "c"], x_test=x[:30], y_test=y[:30], classes=["b", "c"],
                       val_fraction=0.0)
    assert data.info.class_names == ["b", "c"] and len(data.test) == 10 and data.test.y.tolist() == [0] * 10
    assert len(data.train) == 40


def test_normal_classes_score_every_held_out_sample_by_default() -> None:
    full = load_dataset("digits")
    data = load_dataset("digits", normal_classes=["3"])
    assert set(data.train.y.tolist()) == set(data.val.y.tolist()) == {3}
    threes = int((full.train.y == 3).sum() + (full.val.y == 3).sum() + (full.test.y == 3).sum())
    assert len(data.train) + len(data.val) + len(data.test) == 1797  # nothing dropped: the others went to test
    assert int((data.test.y == 3).sum()) == threes - len(data.train) - len(data.val)
    assert data.info.split_classes["train"] == ["3"] and len(data.info.split_classes["test"]) == 10
    kept = load_dataset("digits", normal_classes=[3], score_heldout=False)
    assert len(kept.test) == len(full.test)


def test_names_indices_and_mistakes() -> None:
    names = ["ham", "spam"]
    assert resolve_classes(["spam", 0], names, "data.classes") == [1, 0]
    with pytest.raises(ConfigError, match="Did you mean 'spam'"):
        resolve_classes(["spamm"], names, "data.classes")
    with pytest.raises(ConfigError, match="0..1"):
        resolve_classes([2], names, "data.classes")
    with pytest.raises(ConfigError, match="once"):
        resolve_classes([0, "ham"], names, "data.classes")


def test_train_classes_still_loads_with_a_deprecation_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="deepfeat"):
        cfg = Config.from_dict({"data": {"name": "digits", "train_classes": [0]}})
    assert cfg.data["normal_classes"] == [0] and "train_classes" not in cfg.data
    assert "data.train_classes is deprecated" in caplog.text
    with pytest.warns(DeprecationWarning):
        assert set(load_dataset("digits", train_classes=[0]).train.y.tolist()) == {0}
    with pytest.raises(ConfigError, match="only data.normal_classes"):
        Config.from_dict({"data": {"name": "digits", "train_classes": [0], "normal_classes": [1]}})
