"""Scoring a new long series with a run trained on windows: cut it as in training, score the windows, map the
window scores back to time points.

The run's data declares how its samples were cut (``DataInfo.windows``: ``{length, stride}``, set by a windowed
dataset such as ``series_windows``), so nothing here knows a dataset or learner by name.

    >>> out = score_series(run, series, labels, reduce="mean")   # series (T,) or (C, T), labels (T,) 0/1
    >>> out["points"], out["metrics"]                              # (T,) scores; point ROC-AUC / AP
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from deepfeat.data.series_file import read_series
from deepfeat.data.windows import sliding_windows
from deepfeat.errors import ConfigError, DataError
from deepfeat.eval.windows import point_metrics, points_from_windows

Reduce = Literal["max", "mean"]
REDUCES = ("max", "mean")


def windowing(info: Any, run_name: str) -> dict[str, int]:
    """The run's ``{length, stride}``; a clear error for a run not trained on windows of a series."""
    if not info.windows:
        raise ConfigError(f"run {run_name}: expected a run trained on windows of a series (a windowed dataset such "
                          "as series_windows) for point scores, got one trained on whole samples. Drop --reduce: "
                          "`deepfeat score` then gives one score per sample.")
    return dict(info.windows)


def score_series(score_windows: Callable[[np.ndarray], np.ndarray], windows: dict[str, int], series: Any,
                 labels: Any = None, reduce: Reduce = "mean") -> dict[str, Any]:
    """Point scores of ``series`` ``(C, T)`` from ``score_windows`` (windows ``(N, C, length)`` -> ``(N,)``).

    Returns ``points`` ``(T,)``, ``windows`` ``(N,)`` scores, ``starts`` ``(N,)`` and, when ``labels`` ``(T,)``
    hold both classes, ``metrics`` (point ROC-AUC and average precision; else an empty dict).
    """
    if reduce not in REDUCES:
        raise ConfigError(f"reduce: expected one of {', '.join(REDUCES)}, got {reduce!r}")
    length, stride = int(windows["length"]), int(windows["stride"])
    x = np.asarray(series, dtype=np.float64)
    if x.shape[-1] < length:
        raise DataError(f"series: expected at least {length} time points (the run's window length), got "
                        f"{x.shape[-1]}. Score a longer series, or train on shorter windows.")
    cut, starts = sliding_windows(x, length, stride)
    scores = np.asarray(score_windows(cut), dtype=np.float64)
    points = points_from_windows(scores, starts, length, x.shape[-1], reduce)
    both = labels is not None and len(np.unique(labels)) == 2
    metrics = point_metrics(points, labels) if both else {}
    return {"points": points, "windows": scores, "starts": starts, "metrics": metrics}


def write_point_scores(score_windows: Callable[[np.ndarray], np.ndarray], info: Any, run_name: str, data: Any,
                       out: Path, threshold: float, reduce: Reduce) -> dict[str, Any]:
    """Score the series in file ``data`` point by point into ``out`` (.csv: score,anomaly[,label]; .npy: scores).

    A point is flagged when its score exceeds ``threshold`` (calibrated on window scores). Returns a summary:
    points, windows, length, stride, reduce, flagged fraction, threshold and point metrics when labels exist.
    """
    windows = windowing(info, run_name)
    x, y = read_series(data, channels=int(info.input_shape[0]))
    result = score_series(score_windows, windows, x, y, reduce)
    points = result["points"]
    flags = (points > threshold).astype(np.int64)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, points.astype(np.float32))
    else:
        columns = [points, flags] + ([y] if y is not None else [])
        np.savetxt(out, np.column_stack(columns), delimiter=",", comments="",
                   header="score,anomaly" + (",label" if y is not None else ""),
                   fmt=["%.9g", "%d"] + (["%d"] if y is not None else []))
    return {"points": len(points), "windows": len(result["windows"]), **windows, "reduce": reduce,
            "flagged": float(flags.mean()), "threshold": threshold, "metrics": result["metrics"]}
