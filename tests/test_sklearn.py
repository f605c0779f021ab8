"""The scikit-learn estimators: sklearn's own estimator checks, every learner as a transformer, and
a Pipeline + GridSearchCV on digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import deepfeat  # noqa: F401  (registers every learner)
from deepfeat.errors import ConfigError, DataError
from deepfeat.learners.build import LEARNERS
from deepfeat.sklearn import DeepClassifier, DeepFeatureTransformer

TINY = dict(encoder={"name": "mlp", "hidden": [16]}, epochs=5, batch_size=32, lr=1e-2, random_state=0, device="cpu")


class SmallNet:
    """A user's own encoder factory: ``input_shape -> nn.Module`` (picklable, with a stable repr for test ids)."""

    def __call__(self, input_shape: tuple[int, ...]) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(int(np.prod(input_shape)), 16), torch.nn.ReLU())

    def __repr__(self) -> str:
        return "SmallNet()"


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    return x[:1200], y[:1200], x[1200:], y[1200:]


# Every check passes, so no expected failures are listed; an unsupervised learner (autoencoder)
# goes through the transformer checks too, since its fit ignores y.
@parametrize_with_checks([
    DeepClassifier(**TINY),
    DeepFeatureTransformer(**TINY),
    DeepFeatureTransformer(learner={"name": "autoencoder", "code_dim": 4}, **TINY),
    DeepClassifier(**{**TINY, "encoder": SmallNet()}),
])
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)


TEXT_ONLY = {"seq_autoencoder"}  # learners of token ids


@pytest.mark.parametrize("name", LEARNERS.names())
def test_every_learner_works_as_a_transformer(name: str) -> None:
    rng, y = np.random.default_rng(0), np.arange(32) % 4
    if name in TEXT_ONLY:  # (N, T) token ids, right-padded with 0
        x = rng.integers(2, 20, (32, 8)) * (np.arange(8) < rng.integers(3, 9, (32, 1)))
        est = DeepFeatureTransformer(learner=name, encoder={"name": "text_rnn", "vocab_size": 20, "embed_dim": 8,
                                                            "hidden_size": 8}, kind="tokens", epochs=1, batch_size=16,
                                     random_state=0, device="cpu")
    else:
        x = rng.random((32, 8, 8), dtype=np.float32)  # (N, H, W) images
        est = DeepFeatureTransformer(learner=name, encoder={"name": "cnn", "channels": [8, 16], "norm": "layer"},
                                     kind="image", epochs=1, batch_size=16, random_state=0, device="cpu")
    labels = y if est.__sklearn_tags__().target_tags.required else None
    z = est.fit(x, labels).transform(x)
    assert z.shape == (32, est.learner_.feature_dim) and z.dtype == np.float32 and np.isfinite(z).all()
    assert est.input_shape_ == ((8,) if name in TEXT_ONLY else (1, 8, 8)) and est.n_features_in_ == 8
    np.testing.assert_array_equal(est.fit(x, labels).transform(x), z)  # same random_state, same features


def test_classifier_learns_digits_with_text_labels(digits) -> None:
    xtr, ytr, xte, yte = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = DeepClassifier(encoder={"name": "mlp", "hidden": [64]}, epochs=20, lr=3e-3, random_state=0, device="cpu")
    clf.fit(xtr, names[ytr])
    assert list(clf.classes_) == sorted(names)
    proba = clf.predict_proba(xte)
    assert proba.shape == (len(xte), 10) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert set(clf.predict(xte)) <= set(names)
    assert clf.score(xte, names[yte]) > 0.88  # 0.918 measured; a linear model on raw pixels ~0.93; chance 0.1
    assert clf.embed(xte).shape == (len(xte), 64)
    assert clf.n_iter_ == 20 and len(clf.history_) == 20


def test_sequences_and_shape_errors() -> None:
    x = np.random.default_rng(0).normal(size=(40, 2, 16)).astype(np.float32)  # (N, C, T)
    y = (x[:, 0].mean(1) > 0).astype(int)
    est = DeepFeatureTransformer(encoder={"name": "tcn", "channels": [8]}, epochs=2, random_state=0, device="cpu")
    z = est.fit(x, y).transform(x)
    assert z.shape == (40, est.learner_.feature_dim) and est.kind_ == "sequence"
    with pytest.raises(DataError, match=r"expected samples of shape \(2, 16\)"):
        est.transform(x[:, :, :8])


def test_fit_is_seeded_and_leaves_global_rngs_alone() -> None:
    x = np.random.default_rng(1).normal(size=(60, 5))
    y = (x[:, 0] > 0).astype(int)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = DeepClassifier(**TINY).fit(x, y)
    assert torch.equal(torch.rand(3), before)
    b = DeepClassifier(**{**TINY, "random_state": 1}).fit(x, y)
    np.testing.assert_array_equal(a.predict_proba(x), DeepClassifier(**TINY).fit(x, y).predict_proba(x))
    assert not np.array_equal(a.predict_proba(x), b.predict_proba(x))
    assert DeepClassifier(**{**TINY, "random_state": None}).fit(x, y).seed_ >= 0


def test_wrong_learner_and_missing_labels_fail_clearly() -> None:
    x = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ConfigError, match="expected a learner that predicts classes"):
        DeepClassifier(learner="autoencoder").fit(x, np.arange(20) % 2)
    with pytest.raises(ValueError, match="requires y to be passed"):
        DeepFeatureTransformer(learner="classifier").fit(x)
    with pytest.raises(ConfigError, match="Did you mean 'autoencoder'"):
        DeepFeatureTransformer(learner="autoencodr", device="cpu").fit(x)


def test_pipeline_and_grid_search_on_digits(digits) -> None:
    xtr, ytr, xte, yte = digits
    pipe = Pipeline([
        ("features", DeepFeatureTransformer(encoder={"name": "mlp", "hidden": [32]}, epochs=20, random_state=0,
                                            device="cpu")),
        ("probe", LogisticRegression(max_iter=2000)),
    ])
    search = GridSearchCV(pipe, {"features__lr": [1e-4, 1e-2]}, cv=2).fit(xtr, ytr)
    assert search.best_params_ == {"features__lr": 1e-2}  # 20 epochs at 1e-4 barely move the weights
    assert search.score(xte, yte) > 0.88  # 0.915 measured; chance is 0.1
    assert search.best_estimator_["features"].transform(xte).shape == (len(xte), 32)


def test_a_module_instance_trains_and_the_callers_module_is_left_untouched(digits) -> None:
    x, y, xt, yt = digits
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU())
    before = net[0].weight.clone()
    clf = DeepClassifier(**{**TINY, "encoder": net, "epochs": 10}).fit(x, y)
    assert clf.score(xt, yt) > 0.85  # measured 0.89; chance is 0.1
    assert torch.equal(net[0].weight, before)  # fitted a copy: refits start from the same weights
    assert clf.predict(xt[:3]).shape == (3,)
