"""Feature probes against scikit-learn computed directly on the same features, plus input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from deepfeat.errors import ConfigError, DataError
from deepfeat.eval import EVALUATIONS, knn_accuracy, linear_probe
from deepfeat.registry import all_registries


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """8x8 digits as (N, 64) features; a little noise removes exact distance ties between duplicates."""
    x, y = load_digits(return_X_y=True)
    x = x + np.random.default_rng(0).normal(scale=1e-3, size=x.shape)
    return x[:1200], y[:1200], x[1200:], y[1200:]


def test_linear_probe_matches_sklearn(digits) -> None:
    xtr, ytr, xte, yte = digits
    result = linear_probe(xtr, ytr, xte, yte, C=0.5, max_iter=500, return_predictions=True)
    scaler = StandardScaler().fit(xtr)
    ref = LogisticRegression(C=0.5, max_iter=500).fit(scaler.transform(xtr), ytr)
    ref_pred = ref.predict(scaler.transform(xte))
    np.testing.assert_array_equal(result["predictions"], ref_pred)
    assert result["accuracy"] == pytest.approx(np.mean(ref_pred == yte))
    assert result["accuracy"] > 0.9  # digits are nearly linearly separable
    assert result["settings"] == {"C": 0.5, "max_iter": 500, "standardize": True, "seed": 0, "solver": "lbfgs"}
    assert result["converged"] is True


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_knn_matches_sklearn(digits, metric: str) -> None:
    xtr, ytr, xte, yte = digits
    result = knn_accuracy(xtr, ytr, xte, yte, k=[5, 1, 10], metric=metric, return_predictions=True)
    for k in (1, 5, 10):
        ref = KNeighborsClassifier(n_neighbors=k, metric=metric, algorithm="brute").fit(xtr, ytr)
        assert result["accuracy_by_k"][k] == pytest.approx(ref.score(xte, yte))
        if k == 5:
            np.testing.assert_array_equal(result["predictions"], ref.predict(xte))
    assert result["accuracy"] == result["accuracy_by_k"][5] > 0.9
    assert result["settings"] == {"k": [5, 1, 10], "metric": metric, "vote": "majority"}


def test_knn_vote_ties_go_to_the_smallest_label() -> None:
    train = np.array([[1.0, 0.0], [-1.0, 0.0], [10.0, 10.0]])
    result = knn_accuracy(train, [3, 1, 0], [[0.0, 0.2]], [1], k=2, metric="euclidean")
    assert result["accuracy"] == 1.0 and result["settings"]["k"] == 2


def test_results_are_reproducible_and_accept_torch(digits) -> None:
    xtr, ytr, xte, yte = digits
    tensors = [torch.as_tensor(a, dtype=torch.float32) for a in (xtr, xte)]
    labels = [torch.as_tensor(a) for a in (ytr, yte)]
    for probe in (linear_probe, knn_accuracy):
        first = probe(xtr, ytr, xte, yte)
        assert probe(xtr, ytr, xte, yte) == first
        from_torch = probe(tensors[0], labels[0], tensors[1], labels[1])
        assert from_torch["accuracy"] == pytest.approx(first["accuracy"], abs=0.01)


def test_registered_as_evaluations(digits) -> None:
    assert {"knn", "linear_probe"} <= set(all_registries()["evaluations"].names())
    xtr, ytr, xte, yte = digits
    result = EVALUATIONS.build({"name": "knn", "k": 3}, xtr, ytr, xte, yte, where="eval")
    assert result["settings"]["k"] == 3
    with pytest.raises(ConfigError, match="Did you mean 'metric'"):
        EVALUATIONS.build({"name": "knn", "metrc": "cosine"}, xtr, ytr, xte, yte, where="eval")


@pytest.mark.parametrize("probe", [linear_probe, knn_accuracy])
def test_bad_inputs_say_what_was_expected(probe) -> None:
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(20, 4)), np.arange(20) % 2
    with pytest.raises(DataError, match=r"train\.y: expected 20 labels .* got 19"):
        probe(z, y[:19], z, y)
    nan = z.copy()
    nan[3, 1] = np.nan
    with pytest.raises(DataError, match=r"test\.x: expected finite numbers.*sample 3"):
        probe(z, y, nan, y)
    with pytest.raises(DataError, match=r"train\.x: expected 2 dimensions \(N, F\)"):
        probe(z[:, 0], y, z, y)
    with pytest.raises(DataError, match="expected 4 features .* got 3"):
        probe(z, y, z[:, :3], y)


def test_probe_specific_errors() -> None:
    z, y = np.random.default_rng(0).normal(size=(6, 3)), np.array([0, 1, 0, 1, 0, 1])
    with pytest.raises(ConfigError, match=r"knn\.k: expected whole numbers in 1\.\.6"):
        knn_accuracy(z, y, z, y, k=7)
    with pytest.raises(ConfigError, match="'cosine' or 'euclidean'"):
        knn_accuracy(z, y, z, y, metric="manhattan")
    with pytest.raises(DataError, match="at least 2 classes"):
        linear_probe(z, np.zeros(6, dtype=int), z, y)


def test_logistic_head_gives_the_probes_predictions(digits) -> None:
    from deepfeat.eval.probes import logistic_head

    xtr, ytr, xte, yte = digits
    head = logistic_head(xtr, ytr, 12)  # two classes more than the data holds: never predicted
    logits = ((torch.as_tensor(xte, dtype=torch.float32) - head["mean"]) / head["var"].sqrt()) @ head["weight"].T + head["bias"]
    expected = linear_probe(xtr, ytr, xte, yte, return_predictions=True)["predictions"]
    assert head["weight"].shape == (12, xtr.shape[1]) and not head["weight"][10:].any()
    assert np.mean(logits.argmax(1).numpy() == expected) > 0.995  # float32 vs float64: a tie may flip
    binary = ytr < 2
    two = logistic_head(xtr[binary], ytr[binary], 2)
    z = ((torch.as_tensor(xte, dtype=torch.float32) - two["mean"]) / two["var"].sqrt()) @ two["weight"].T + two["bias"]
    assert torch.allclose(z[:, 0], -z[:, 1], atol=1e-5)  # symmetric log-odds
    with pytest.raises(DataError, match="labels in 0..1"):
        logistic_head(xtr, ytr, 2)
