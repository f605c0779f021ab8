"""Window scores back to time points, and point-level anomaly metrics (pure functions over arrays)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from deepfeat.errors import ConfigError


def points_from_windows(scores: np.ndarray, starts: np.ndarray, length: int, n_points: int,
                        reduce: Literal["max", "mean"] = "max") -> np.ndarray:
    """Score of every time point ``(n_points,)``: the max (or mean) of the scores ``(N,)`` of the windows
    ``[start, start + length)`` that cover it; NaN for a point no window covers."""
    if reduce not in ("max", "mean"):
        raise ConfigError(f"reduce: expected 'max' or 'mean', got {reduce!r}")
    scores, starts = np.asarray(scores, dtype=np.float64), np.asarray(starts, dtype=np.int64)
    out = np.full(n_points, -np.inf if reduce == "max" else 0.0)
    count = np.zeros(n_points)
    for s, start in zip(scores, starts):
        span = slice(start, start + length)
        if reduce == "max":
            np.maximum(out[span], s, out=out[span])
        else:
            out[span] += s
        count[span] += 1
    out = out / np.maximum(count, 1) if reduce == "mean" else out
    return np.where(count > 0, out, np.nan)


def point_metrics(point_scores: np.ndarray, point_labels: np.ndarray) -> dict[str, float]:
    """ROC-AUC and average precision of point scores against 0/1 point labels (uncovered points left out)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    keep = ~np.isnan(point_scores)
    y, s = np.asarray(point_labels)[keep].astype(int), np.asarray(point_scores)[keep]
    return {"roc_auc": float(roc_auc_score(y, s)), "average_precision": float(average_precision_score(y, s))}
