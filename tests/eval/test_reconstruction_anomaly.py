"""Reconstruction metrics against scikit-image, anomaly metrics against hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from deepfeat.errors import ConfigError, DataError
from deepfeat.eval.anomaly import anomaly_labels, calibrate_threshold, detection_report, roc_points
from deepfeat.eval.reconstruction import mse_per_sample, psnr, reconstruction_report, ssim


@pytest.fixture
def images() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    clean = rng.random((6, 1, 12, 12))
    return clean, np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0, 1)


def test_psnr_and_ssim_agree_with_scikit_image(images) -> None:
    clean, noisy = images
    ref_psnr = np.mean([peak_signal_noise_ratio(c, n, data_range=1) for c, n in zip(clean, noisy)])
    ref_ssim = np.mean([structural_similarity(c[0], n[0], data_range=1, win_size=7) for c, n in zip(clean, noisy)])
    assert psnr(clean, noisy) == pytest.approx(ref_psnr, abs=1e-6)
    assert ssim(clean, noisy) == pytest.approx(ref_ssim, abs=5e-3)
    assert ssim(clean, clean) == pytest.approx(1.0)


def test_gaussian_noise_of_sigma_half_is_about_6db() -> None:
    clean = np.random.default_rng(1).random((20, 1, 28, 28))
    noisy = clean + 0.5 * np.random.default_rng(2).standard_normal(clean.shape)
    assert psnr(clean, noisy) == pytest.approx(10 * np.log10(1 / 0.25), abs=0.1)
    np.testing.assert_allclose(mse_per_sample(clean, noisy), ((clean - noisy) ** 2).mean((1, 2, 3)))


def test_reconstruction_report_checks_shapes(images) -> None:
    clean, noisy = images
    report = reconstruction_report(clean, noisy)
    assert set(report) == {"mse", "psnr", "ssim", "settings"}
    assert "ssim" not in reconstruction_report(clean.reshape(6, -1), noisy.reshape(6, -1), images=False)
    with pytest.raises(DataError, match="same shape"):
        psnr(clean, noisy[:3])


def test_detection_report_perfect_reversed_and_at_threshold() -> None:
    labels = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert detection_report(labels, scores)["roc_auc"] == 1.0
    assert detection_report(labels, -scores)["roc_auc"] == 0.0
    # Threshold 0.25 flags 0.3, 0.8, 0.9: 2 true positives, 1 false positive out of 3 normals.
    at = detection_report(labels, scores, threshold=0.25)
    assert (at["precision"], at["recall"], at["false_positive_rate"]) == pytest.approx((2 / 3, 1.0, 1 / 3))
    fpr, tpr, _ = roc_points(labels, scores)
    assert fpr[0] == 0 and tpr[-1] == 1
    with pytest.raises(DataError, match="both present"):
        detection_report(np.zeros(5), scores)


def test_threshold_calibration_by_quantile_and_contamination() -> None:
    scores = np.arange(1000, dtype=float)
    by_quantile = calibrate_threshold(scores, quantile=0.9)
    assert np.mean(scores > by_quantile["threshold"]) == pytest.approx(0.1, abs=0.002)
    by_rate = calibrate_threshold(scores, contamination=0.05)
    assert by_rate["threshold"] == pytest.approx(np.quantile(scores, 0.95))
    assert by_rate["settings"]["method"] == "contamination"
    with pytest.raises(ConfigError, match="got both"):
        calibrate_threshold(scores, quantile=0.9, contamination=0.1)
    with pytest.raises(DataError, match="NaN or inf"):
        calibrate_threshold([1.0, np.nan])


def test_anomaly_labels_mark_classes_outside_the_normal_ones() -> None:
    np.testing.assert_array_equal(anomaly_labels([0, 1, 2, 1, 5], [1, 2]), [1, 0, 0, 0, 1])
