"""kNN anomaly scores from self-supervised features: the distance against a brute-force computation, the bank
saved and loaded with the model, the capability declared only when asked, and one-class digits."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import deepfeat  # noqa: F401  (registers everything)
from deepfeat.data.datasets import load_dataset
from deepfeat.data.info import DataInfo
from deepfeat.engine.device import Precision
from deepfeat.engine.inference import collect
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import ConfigError, TrainingError
from deepfeat.learners.build import build_learner, declared_by
from deepfeat.learners.knn_scores import FeatureBank
from deepfeat.run.model_io import export_model, load_model

CNN = {"name": "cnn", "channels": [8, 16]}


def test_score_is_the_mean_cosine_distance_to_the_k_nearest_bank_features() -> None:
    g = torch.Generator().manual_seed(0)
    train, new = torch.randn(50, 6, generator=g), torch.randn(7, 6, generator=g)
    bank = FeatureBank(6, k=3)
    with pytest.raises(TrainingError, match="Train the learner"):
        bank.score(new)
    bank.fill(lambda x: x, [(train[:20], None), (train[20:], None)], lambda x: x, contextlib.nullcontext)
    a = train.double().numpy() / np.linalg.norm(train.double().numpy(), axis=1, keepdims=True)
    b = new.double().numpy() / np.linalg.norm(new.double().numpy(), axis=1, keepdims=True)
    expected = np.sort(1 - b @ a.T, axis=1)[:, :3].mean(1)
    np.testing.assert_allclose(bank.score(new, chunk=16).numpy(), expected, rtol=1e-5, atol=1e-6)
    small = FeatureBank(6, k=3, max_size=10)
    small.fill(lambda x: x, [(train, None)], lambda x: x, contextlib.nullcontext)
    assert small.bank.shape == (10, 6)  # a seeded subset when the training set is larger


def test_euclidean_score_keeps_how_far_out_a_sample_lies() -> None:
    g = torch.Generator().manual_seed(0)
    train, new = torch.randn(50, 6, generator=g), torch.randn(7, 6, generator=g)
    bank = FeatureBank(6, k=3, metric="euclidean")
    bank.fill(lambda x: x, [(train, None)], lambda x: x, contextlib.nullcontext)
    distances = np.linalg.norm(new.double().numpy()[:, None] - train.double().numpy()[None], axis=2)
    np.testing.assert_allclose(bank.score(new, chunk=16).numpy(), np.sort(distances, axis=1)[:, :3].mean(1), rtol=1e-4)
    far = 10 * train[:1]  # the direction of a training sample, further out: near by cosine, far by Euclidean
    assert bank.score(far) > bank.score(train[:1]) + 5
    with pytest.raises(ConfigError, match="knn_metric.*euclidean"):
        FeatureBank(6, metric="manhattan")
    with pytest.raises(ConfigError, match="Use learner: mae_knn"):  # only a scoring variant takes a metric
        build_learner({"name": "mae", "knn_metric": "euclidean"}, DataInfo("vector", (6,)), {"name": "mlp"})
    learner = build_learner({"name": "vicreg_knn", "knn_metric": "euclidean"}, DataInfo("vector", (6,)), {"name": "mlp"})
    assert learner.bank.metric == "euclidean"


def test_scores_are_declared_by_the_knn_variants_class_and_saved_with_the_model(tmp_path) -> None:
    info = DataInfo("image", (1, 8, 8))
    plain = build_learner({"name": "vicreg"}, info, CNN)
    assert not plain.can("scores") and "anomaly" not in plain.evaluations
    with pytest.raises(ConfigError, match="vicreg_knn"):
        plain.score_samples(torch.randn(2, 1, 8, 8))
    with pytest.raises(ConfigError, match="Use learner: vicreg_knn"):  # never a declaration changed on the instance
        build_learner({"name": "vicreg", "knn_k": 2}, info, CNN)
    for name in ("simclr", "vicreg", "mae"):
        spec = {"name": f"{name}_knn", "knn_k": 2}
        declared = declared_by(spec)
        assert "scores" in declared.capabilities and "anomaly" in declared.evaluations  # read without building
        learner = build_learner(spec, info, CNN).eval()
        assert learner.can("scores") and "anomaly" in learner.evaluations and "roc_curve" in learner.figures
        x = torch.randn(12, 1, 8, 8)
        learner.on_fit_end([(x, None)], lambda v: v, contextlib.nullcontext)
        export_model(learner, info, spec, CNN, tmp_path / name)
        again, _ = load_model(tmp_path / name)
        torch.testing.assert_close(again.score_samples(x[:4]), learner.score_samples(x[:4]))


def test_vicreg_knn_scores_rank_other_digits_as_anomalies() -> None:
    fp32 = Precision(torch.device("cpu"), None, False)
    aucs = []
    for digit in (0, 3, 8):
        data = load_dataset("digits", normal_classes=[digit])
        learner = build_learner({"name": "vicreg_knn", "knn_k": 5, "expander_dim": 128, "expander_hidden": 128},
                                data.info, {"name": "cnn", "channels": [16, 32]})
        config = TrainingConfig(epochs=5, batch_size=64, progress="none", precision="fp32", restore_best=False)
        Trainer(config, seed=0).fit(learner, data, optimizer={"name": "adam", "lr": 1e-3})
        scores, y = collect(learner.eval(), data.test, fp32, learner.score_samples)
        aucs.append(roc_auc_score(y != digit, scores))
    assert np.mean(aucs) > 0.95 and min(aucs) > 0.9, aucs


@pytest.mark.parametrize("name, alarm", [("simclr", "collapse_warning"), ("vicreg", "ssl_health"),
                                         ("mae", "collapse_warning")])
def test_self_supervised_learners_declare_their_health_alarm(name: str, alarm: str) -> None:
    learner = build_learner({"name": name}, DataInfo("image", (1, 8, 8)), CNN)
    assert alarm in learner.observers
