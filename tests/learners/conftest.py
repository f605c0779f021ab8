"""Fixtures shared by the learner tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from deepfeat.data.bundle import make_bundle
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.learners.build import build_learner
from deepfeat.run.model_io import export_model, load_model


@pytest.fixture
def beyond_range_auc(tmp_path: Path) -> Callable[[dict[str, Any], dict[str, Any]], float]:
    """``auc(spec, encoder)``: a detector trained on a table whose normal rows vary along one direction, with
    anomalies along it 3-5 standard deviations out (as benign tumours lie when malignant ones are normal; a
    reconstruction error sees nothing odd there), 15 epochs; its test ROC-AUC. Checks on the way that the exported
    model scores exactly as the trained one (state fixed after training, such as centres, is saved with it)."""

    def auc(spec: dict[str, Any], encoder: dict[str, Any]) -> float:
        torch.set_num_threads(1)
        rng = np.random.default_rng(0)
        v = rng.normal(size=6) / np.sqrt(6)
        t = np.r_[rng.normal(size=400), rng.choice([-1, 1], 100) * rng.uniform(3, 5, 100)]
        x = (t[:, None] * v + 0.3 * rng.normal(size=(500, 6))).astype(np.float32)
        data = make_bundle(x, np.r_[np.zeros(400), np.ones(100)].astype(int), "vector", "line", normal_classes=(0,),
                           val_fraction=0.1, test_fraction=0.3)
        torch.manual_seed(0)
        learner = build_learner(spec, data.info, encoder)
        config = TrainingConfig(epochs=15, batch_size=32, progress="none", restore_best=False)
        Trainer(config, seed=0).fit(learner, data, optimizer={"name": "adam", "lr": 1e-3})
        scores = learner.eval().score_samples(data.test.x)
        export_model(learner, data.info, spec, encoder, tmp_path / "model")
        torch.testing.assert_close(load_model(tmp_path / "model")[0].eval().score_samples(data.test.x), scores)
        return float(roc_auc_score(data.test.y.numpy() != 0, scores.numpy()))

    return auc
