"""Generative metrics against closed forms and brute-force computations on small feature sets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from deepfeat.errors import DataError
from deepfeat.eval.generative import frechet_distance, kernel_distance, mode_coverage, precision_recall


def _gauss(n: int = 600, d: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def test_fid_of_a_set_with_itself_is_zero_and_a_shift_adds_its_squared_length() -> None:
    x = _gauss()
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    # Shifting every sample by delta keeps the covariance: FID = ||delta||^2 = d * 0.5^2 exactly.
    assert frechet_distance(x, x + 0.5) == pytest.approx(8 * 0.25, rel=1e-6)
    assert frechet_distance(x, x + 1.0) > frechet_distance(x, x + 0.5)


def test_fid_matches_scipy_sqrtm_for_different_covariances() -> None:
    a, b = _gauss(seed=1), _gauss(seed=2) * np.linspace(0.5, 2.0, 8) + 0.3
    mu_a, mu_b, s_a, s_b = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = np.sum((mu_a - mu_b) ** 2) + np.trace(s_a + s_b - 2 * linalg.sqrtm(s_a @ s_b).real)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_kid_is_about_zero_for_one_distribution_and_grows_with_a_shift() -> None:
    a, b = _gauss(seed=3), _gauss(seed=4)
    same, _ = kernel_distance(a, b, subsets=20, subset_size=200)
    shifted, _ = kernel_distance(a, b + 1.0, subsets=20, subset_size=200)
    assert abs(same) < 0.05 and shifted > 1.0


def _pr_brute(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    def radii(x: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(x[:, None] - x[None], axis=2)
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def inside(ref: np.ndarray, r: np.ndarray, q: np.ndarray) -> float:
        return float(np.mean([(np.linalg.norm(ref - p, axis=1) <= r).any() for p in q]))

    return inside(real, radii(real), fake), inside(fake, radii(fake), real)


def test_precision_recall_matches_brute_force_and_sees_a_dropped_mode() -> None:
    rng = np.random.default_rng(5)
    real = np.concatenate([rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + 8])
    fake = rng.normal(size=(80, 2)) * 0.8  # one of the two modes only
    got = precision_recall(real, fake, k=3, chunk=17)
    assert (got["precision"], got["recall"]) == pytest.approx(_pr_brute(real, fake, 3))
    assert got["precision"] > 0.9 and got["recall"] < 0.6
    same = precision_recall(real, real + 1e-3, k=3)
    assert same["precision"] > 0.95 and same["recall"] > 0.95


def test_mode_coverage_counts_classes_and_kl_is_closed_form() -> None:
    real = np.repeat(np.arange(4), 25)  # uniform over 4 classes
    fake = np.array([0] * 50 + [1] * 48 + [2] * 2)  # class 2 barely, class 3 never
    out = mode_coverage(real, fake, 4, min_fraction=0.1)
    assert out["classes_covered"] == 2  # class 2 got 2 < 0.1 * 25 samples
    q = np.array([0.5, 0.48, 0.02])
    assert out["class_kl"] == pytest.approx(np.sum(q * np.log(q / 0.25)))
    assert mode_coverage(real, real, 4)["class_kl"] == pytest.approx(0.0)


def test_metrics_reject_mismatched_features() -> None:
    with pytest.raises(DataError, match="same D"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
