"""data.augment: training batches augmented where they land (here the CPU), batched, from (seed, epoch, step, rank)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch

import deepfeat
from deepfeat.data.bundle import from_arrays
from deepfeat.engine.callbacks import Callback
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import ConfigError
from deepfeat.learners.build import build_learner

CFG = TrainingConfig(epochs=2, batch_size=32, progress="none", device="cpu", restore_best=False)


def _images(augment: Any = "auto"):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    x = rng.random((128, 1, 12, 12), dtype=np.float32)
    bundle = from_arrays(x, rng.integers(0, 2, 128), kind="image", val_fraction=0.0)
    return deepfeat.data.datasets.load_dataset(bundle, augment=augment) if augment else bundle


def _fit(data, resume: dict | None = None, stop_at: tuple[int, int] | None = None):  # type: ignore[no-untyped-def]
    """Fit a small CNN classifier, recording each training batch; ``stop_at`` (epoch, step) saves the state there."""
    torch.manual_seed(0)
    learner = build_learner("classifier", data.info, {"name": "cnn", "channels": [4], "pool": "avg"})
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    original = learner.training_step

    def recording(batch):  # type: ignore[no-untyped-def]
        seen.append((batch[0].clone(), batch[1].clone()))
        return original(batch)

    learner.training_step = recording  # type: ignore[method-assign]
    saved: dict[str, Any] = {}

    class Save(Callback):
        def on_step_end(self, trainer, metrics):  # type: ignore[no-untyped-def]
            if stop_at == (trainer.epoch, trainer.epoch_step):
                saved.update(copy.deepcopy(trainer.checkpoint_state()))

    Trainer(CFG, seed=5, callbacks=[Save()]).fit(learner, data, resume=resume)
    return learner, seen, saved


def test_training_batches_are_augmented_per_sample_with_their_labels_untouched_and_the_same_for_a_seed() -> None:
    plain, augmented = _fit(_images(None))[1], _fit(_images())[1]
    again = _fit(_images())[1]
    assert len(plain) == len(augmented) == 8
    for (x0, y0), (x1, y1), (x2, y2) in zip(plain, augmented, again):
        assert x1.shape == x0.shape and torch.equal(y1, y0)  # same shape, same labels
        assert not torch.equal(x1, x0) and torch.equal(x1, x2)  # changed, and drawn alike from the same seed
        changed = (x1 - x0).flatten(1).abs().amax(1) > 1e-6
        assert changed.all()  # every sample gets its own crop
    assert not torch.equal(augmented[0][0], augmented[4][0])  # the next epoch draws new crops


def test_a_resume_mid_epoch_draws_the_augmentations_of_the_uninterrupted_run() -> None:
    whole, seen, saved = _fit(_images(), stop_at=(1, 2))
    resumed, seen_after, _ = _fit(_images(), resume=saved)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(seen[-2:], seen_after))
    assert all(torch.equal(p, q) for p, q in zip(whole.state_dict().values(), resumed.state_dict().values()))


def test_data_augment_is_a_data_key_of_the_config() -> None:
    from deepfeat.config import load_config
    from deepfeat.run.runs import load_data

    cfg = load_config({"data": {"name": "digits", "augment": {"name": "image", "crop_scale": [0.5, 1.0]}}})
    data = load_data(cfg)
    assert data.augment is not None and data.augment(torch.zeros(3, 1, 8, 8), torch.Generator()).shape == (3, 1, 8, 8)
    assert load_data(load_config({"data": {"name": "digits"}})).augment is None  # off unless asked for


def test_an_augmentation_of_another_kind_is_refused_when_the_data_loads() -> None:
    with pytest.raises(ConfigError, match=r"augmentation at data.augment: expected one for image samples of shape "
                                          r"\(1, 8, 8\), got \{'name': 'sequence'\}"):
        deepfeat.data.datasets.load_dataset({"name": "digits"}, augment={"name": "sequence"})
