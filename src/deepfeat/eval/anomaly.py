"""Anomaly detection from scores: ranking quality, threshold calibration and decisions.

Pure functions of arrays. Scores are "higher = more anomalous"; labels are 1 for an anomaly and 0
for a normal sample. Ranking quality is scikit-learn's ROC-AUC and average precision; a threshold is
calibrated on scores of clean (normal) data as a quantile, or from an expected contamination rate
(threshold = the ``1 - contamination`` quantile, as pyod's detectors do on their training data).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepfeat.data.checks import ArrayLike, as_numpy
from deepfeat.errors import ConfigError, DataError


def _scores(scores: ArrayLike, where: str) -> np.ndarray:
    s = as_numpy(scores).astype(np.float64).ravel()
    if s.size == 0 or not np.isfinite(s).all():
        got = "none" if s.size == 0 else f"{int((~np.isfinite(s)).sum())} NaN or inf of {s.size}"
        raise DataError(f"scores at {where}: expected a non-empty array of finite numbers, got {got}")
    return s


def anomaly_labels(y: ArrayLike, normal_classes: ArrayLike) -> np.ndarray:
    """1 where a class label ``y`` (N,) is not one of ``normal_classes``, else 0 (one-class protocol)."""
    return (~np.isin(as_numpy(y), as_numpy(normal_classes))).astype(np.int64)


def _binary(labels: ArrayLike, n: int, where: str) -> np.ndarray:
    y = as_numpy(labels).ravel()
    if len(y) != n or not np.isin(y, (0, 1)).all() or len(np.unique(y)) < 2:
        raise DataError(
            f"labels at {where}: expected {n} labels of 0 (normal) and 1 (anomaly) with both present, got "
            f"{len(y)} labels with values {np.unique(y)[:5].tolist()}. Score data that holds both kinds."
        )
    return y.astype(np.int64)


def detection_report(labels: ArrayLike, scores: ArrayLike, threshold: float | None = None) -> dict[str, Any]:
    """ROC-AUC and average precision of ``scores`` (N,) for binary ``labels`` (N,); at a threshold, also
    precision, recall, F1 and false-positive rate of ``scores > threshold``."""
    from sklearn.metrics import average_precision_score, roc_auc_score  # imported here: it takes ~1 s

    s = _scores(scores, "detection_report")
    y = _binary(labels, len(s), "detection_report")
    out: dict[str, Any] = {"roc_auc": float(roc_auc_score(y, s)), "average_precision": float(average_precision_score(y, s)),
                           "anomaly_rate": float(y.mean()), "n": len(y)}
    if threshold is not None:
        pred = s > threshold
        tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
        fn = int((~pred & (y == 1)).sum())
        precision = tp / max(tp + fp, 1)
        recall = tp / max(tp + fn, 1)
        out.update({"precision": precision, "recall": recall, "false_positive_rate": fp / max(int((y == 0).sum()), 1),
                    "f1": 2 * precision * recall / max(precision + recall, 1e-12)})
    return out


def roc_points(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(false-positive rates, true-positive rates, thresholds)`` of the ROC curve (scikit-learn)."""
    from sklearn.metrics import roc_curve  # imported here: scikit-learn takes ~1 s to import

    s = _scores(scores, "roc_points")
    fpr, tpr, thresholds = roc_curve(_binary(labels, len(s), "roc_points"), s)
    return fpr, tpr, thresholds


def calibrate_threshold(scores: ArrayLike, *, quantile: float | None = None,
                        contamination: float | None = None) -> dict[str, Any]:
    """A decision threshold from scores of calibration data: ``{"threshold", "settings"}``.

    ``quantile=q``: the q-quantile of clean scores, so about ``1 - q`` of normal data is flagged.
    ``contamination=c``: data expected to hold a fraction ``c`` of anomalies; the ``1 - c`` quantile.
    Give one of them; with neither, ``quantile=0.95``.
    """
    if quantile is not None and contamination is not None:
        raise ConfigError("calibrate_threshold: expected quantile or contamination, got both. Pass only one.")
    if contamination is not None:
        if not 0 < contamination < 0.5:
            raise ConfigError(f"contamination at calibrate_threshold: expected a rate in (0, 0.5), got {contamination!r}")
        q, settings = 1 - contamination, {"method": "contamination", "contamination": float(contamination)}
    else:
        q = 0.95 if quantile is None else quantile
        if not 0 < q < 1:
            raise ConfigError(f"quantile at calibrate_threshold: expected a number in (0, 1), got {q!r}")
        settings = {"method": "quantile", "quantile": float(q)}
    s = _scores(scores, "calibrate_threshold")
    settings["calibration_samples"] = len(s)
    return {"threshold": float(np.quantile(s, q)), "settings": settings}
