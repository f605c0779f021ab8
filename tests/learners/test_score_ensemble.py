"""score_ensemble: detectors trained side by side, scored by the sum of their scores standardized on the normal
training data; members checked, their own encoders kept, one-class digits ranked."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from deepfeat.data.datasets import load_dataset
from deepfeat.data.info import DataInfo
from deepfeat.engine.device import Precision
from deepfeat.engine.inference import collect
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import ConfigError
from deepfeat.learners.build import build_learner

CNN = {"name": "cnn", "channels": [16, 32]}
MEMBERS = [{"name": "transform_prediction", "translate": False, "transforms_per_sample": 1},
           {"name": "autoencoder", "code_dim": 8, "encoder": {"name": "mlp", "hidden": [32]}}]


def _fit(digit: int, epochs: int):
    data = load_dataset("digits", normal_classes=[digit])
    learner = build_learner({"name": "score_ensemble", "members": MEMBERS}, data.info, CNN)
    config = TrainingConfig(epochs=epochs, batch_size=32, progress="none", precision="fp32", restore_best=False)
    Trainer(config, seed=0).fit(learner, data, optimizer={"name": "adam", "lr": 1e-3})
    return learner.eval(), data


def test_score_is_the_sum_of_member_scores_standardized_on_the_training_data() -> None:
    learner, data = _fit(3, 1)
    assert learner.members[1].encoder.feature_dim == 32 and learner.encoder is learner.members[0].encoder  # own encoders
    with torch.no_grad():
        train = torch.stack([m.score_samples(data.train.x) for m in learner.members], 1)
        torch.testing.assert_close(learner.center, train.mean(0))
        torch.testing.assert_close(learner.spread, train.std(0))
        x = data.test.x[:20]
        expected = sum((m.score_samples(x) - train[:, i].mean()) / train[:, i].std() for i, m in enumerate(learner.members))
        torch.testing.assert_close(learner.score_samples(x), expected)


@pytest.mark.parametrize("members, match", [([{"name": "autoencoder"}], "two or more"),
                                            (["autoencoder", "vicreg"], r"members\[1\]: expected a detector")])
def test_members_are_two_or_more_detectors(members: list, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_learner({"name": "score_ensemble", "members": members}, DataInfo("image", (1, 8, 8)), CNN)


def test_one_class_digits_rank_the_other_digits_as_anomalies() -> None:
    learner, data = _fit(8, 15)
    scores, y = collect(learner, data.test, Precision(torch.device("cpu"), None, False), learner.score_samples)
    assert roc_auc_score(y != 8, scores) > 0.9
    assert np.isfinite(scores).all()
