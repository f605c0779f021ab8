"""Every registered learner: built from defaults, one update, finite loss, embed shape, export round-trip.

A learner registered tomorrow is tested the day it is registered (timm's idea). Learners that need
something other than the defaults are listed in ``tests/conftest.py`` (``learner_case``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepfeat  # noqa: F401  (registers everything)
from deepfeat.run.model_io import export_model, load_model
from deepfeat.learners.base import StepContext
from deepfeat.learners.build import LEARNERS, build_learner

@pytest.mark.parametrize("name", LEARNERS.names())
def test_learner_conformance(name: str, tmp_path, learner_case) -> None:
    data, encoder, spec = learner_case(name)
    learner = build_learner(spec, data.info, encoder)
    batch = next(data.train.batches(16, shuffle=True, generator=torch.Generator().manual_seed(0)))
    optimizers = learner.configure_optimizers({"name": "adam", "lr": 1e-3})
    learner.train()
    metrics = learner.update(batch, optimizers, StepContext())
    assert float(metrics["skipped"]) == 0  # the step was taken
    assert torch.isfinite(metrics["loss"]), metrics
    learner.eval()
    with torch.no_grad():
        z = learner.embed(batch[0])
        val = learner.validation_step(batch)
    assert z.shape == (16, learner.feature_dim)
    assert torch.isfinite(z).all() and all(torch.isfinite(v).all() for v in val.values())
    export_model(learner, data.info, spec, encoder, tmp_path / "model")
    again, info = load_model(tmp_path / "model")
    assert info == data.info
    with torch.no_grad():
        np.testing.assert_array_equal(again.embed(batch[0]).numpy(), z.numpy())
