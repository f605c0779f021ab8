"""Bad input through the scikit-learn estimators: each is refused with a ValueError (scikit-learn's contract;
deepfeat's own errors subclass it) whose message names the problem, before any training starts."""

from __future__ import annotations

import numpy as np
import pytest

from deepfeat.sklearn import DeepClassifier, DeepFeatureTransformer

RNG = np.random.default_rng(0)
X, Y = RNG.random((40, 5)), np.arange(40) % 2


def _with(value: float) -> np.ndarray:
    x = X.copy()
    x[3, 2] = value
    return x


@pytest.mark.parametrize(("x", "y", "params", "message"), [
    (_with(np.nan), Y, {}, "contains NaN"),
    (_with(np.inf), Y, {}, "infinity"),
    (np.full((40, 5), "a"), Y, {}, "could not convert string to float"),
    (X[:1], Y[:1], {}, "at least 2 samples"),
    (X[:, 0], Y, {}, "Expected 2D array"),
    (X, Y[:10], {}, "inconsistent numbers of samples"),
    (X, Y, {"lr": -1.0}, "optimizer.lr: expected a number > 0"),
    (X, Y, {"lr": 0.0}, "optimizer.lr: expected a number > 0"),
    (X, Y, {"epochs": 0}, "training.epochs: expected an integer >= 1"),
    (X, Y, {"batch_size": 0}, "training.batch_size: expected an integer >= 1"),
], ids=["nan", "inf", "strings", "one-sample", "1-D", "y-length", "negative-lr", "zero-lr", "zero-epochs", "zero-batch"])
def test_bad_fit_input_is_refused_with_what_is_wrong(x, y, params, message) -> None:
    with pytest.raises(ValueError, match=message):
        DeepClassifier(**{"epochs": 1, **params}).fit(x, y)


def test_bad_input_at_transform_time_is_refused() -> None:
    fitted = DeepFeatureTransformer(learner="autoencoder", epochs=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match="has 4 features, but DeepFeatureTransformer is expecting 5"):
        fitted.transform(RNG.random((3, 4)))
    with pytest.raises(ValueError, match="contains NaN"):
        fitted.transform(np.full((3, 5), np.nan))
    assert fitted.transform(X[:3]).shape[0] == 3  # and good input still works after the refusals
