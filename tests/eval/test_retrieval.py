"""Retrieval scores on a case checked by hand, and the exact search against scikit-learn's."""

import numpy as np
import pytest

from deepfeat.errors import ConfigError
from deepfeat.eval.protocol import run_protocol
from deepfeat.eval.retrieval import exact_search, retrieval_scores

TRAIN = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [10.0, 0.0]])
TRAIN_Y = np.array([0, 0, 1, 1])
TEST = np.array([[0.1, 0.0], [2.1, 0.0], [9.0, 0.0]])
TEST_Y = np.array([0, 0, 1])


def test_recall_and_map_at_r_by_hand() -> None:
    # Rankings: query 0 -> 0,1,2,3 (relevant 1,1,0,0; R=2: AP 1); query 1 -> 2,1,0,3 (0,1,1,0: AP (0 + 1/2)/2);
    # query 2 -> 3,2,1,0 (1,1,0,0: AP 1).
    result = retrieval_scores(TRAIN, TRAIN_Y, TEST, TEST_Y, k=[1, 2], metric="euclidean")
    assert result["recall_at_k"] == pytest.approx({1: 2 / 3, 2: 1.0})
    assert result["recall_at_1"] == pytest.approx(2 / 3)
    assert result["map_at_r"] == pytest.approx((1 + 0.25 + 1) / 3)


def test_exact_search_matches_scikit_learn() -> None:
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(0)
    base, queries = rng.normal(size=(300, 16)), rng.normal(size=(40, 16))
    for metric in ("euclidean", "cosine"):
        dist, idx = exact_search(base, queries, 7, metric)
        ref_dist, ref_idx = NearestNeighbors(n_neighbors=7, metric=metric, algorithm="brute").fit(base).kneighbors(queries)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_allclose(dist, ref_dist, atol=1e-4)


def test_retrieval_runs_in_the_protocol_and_checks_its_settings() -> None:
    results = run_protocol(TRAIN, TRAIN_Y, TEST, TEST_Y, ["retrieval"], {"retrieval": {"k": [1], "metric": "euclidean"}})
    assert results["retrieval"]["recall_at_1"] == pytest.approx(2 / 3)
    assert results["retrieval"]["settings"]["train_samples"] == 4
    with pytest.raises(ConfigError, match="retrieval.k"):
        retrieval_scores(TRAIN, TRAIN_Y, TEST, TEST_Y, k=[5])


def test_blocks_of_queries_give_the_same_scores(monkeypatch) -> None:
    import deepfeat.eval.retrieval as retrieval

    rng = np.random.default_rng(1)
    args = (rng.normal(size=(200, 8)), rng.integers(0, 3, 200), rng.normal(size=(30, 8)), rng.integers(0, 3, 30))
    whole = retrieval_scores(*args)
    monkeypatch.setattr(retrieval, "BLOCK", 64)  # one query, and a few collection rows' distances, at a time
    assert retrieval_scores(*args) == whole
