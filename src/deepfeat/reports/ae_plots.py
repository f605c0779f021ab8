"""Plots of autoencoders: reconstruction grids, sample grids, latent traversals, anomaly scores, ROC.

Each function takes raw arrays (pixels in their original range) and returns a
``matplotlib.figure.Figure`` in the house style, for :func:`~deepfeat.reports.figures.save_figure`.
Images ``(N, C, H, W)`` are drawn as pictures (gray for one channel, RGB for three); sequences
``(N, C, T)`` and vectors ``(N, F)`` as curves.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepfeat.reports.figures import PALETTE, house_style, new_figure


def _picture(x: np.ndarray) -> np.ndarray:
    """One image ``(C, H, W)`` as what imshow draws: ``(H, W)`` gray or ``(H, W, 3)`` RGB."""
    return np.transpose(x[:3], (1, 2, 0)).clip(0, 1) if x.shape[0] == 3 else x[0]


def _show(ax: Axes, image: np.ndarray, vmin: float, vmax: float) -> None:
    ax.imshow(_picture(image), cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _range(*arrays: np.ndarray) -> tuple[float, float]:
    values = np.concatenate([a.ravel() for a in arrays])
    lo, hi = np.percentile(values, [1, 99])
    # Pixels in [0, 1] keep that scale (values outside saturate), so a faint reconstruction looks
    # faint and a slight overshoot does not grey out the whole grid.
    return (0.0, 1.0) if lo >= -0.1 and hi <= 1.1 else (float(lo), float(hi))


@house_style
def reconstruction_grid(rows: Mapping[str, np.ndarray], labels: Sequence[str] | None = None) -> Figure:
    """One row per entry of ``rows`` (e.g. input / corrupted / reconstruction), arrays ``(N, ...)`` aligned.

    Images are shown as pictures; sequences and vectors as one panel per sample with one curve per row.
    """
    names, arrays = list(rows), [np.asarray(a, dtype=np.float64) for a in rows.values()]
    n = len(arrays[0])
    if arrays[0].ndim == 4:
        vmin, vmax = _range(arrays[0])
        fig = new_figure(1.05 * n + 1.2, 1.15 * len(names) + 0.4)
        axes = fig.subplots(len(names), n, squeeze=False)
        for r, (name, images) in enumerate(zip(names, arrays)):
            for c in range(n):
                _show(axes[r, c], images[c], vmin, vmax)
                if r == 0 and labels is not None:
                    axes[r, c].set_title(labels[c], fontsize=9, fontweight="normal")
            axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
        return fig
    ncols = min(n, 4)
    nrows = -(-n // ncols)
    fig = new_figure(3.2 * ncols, 2.3 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        if i >= n:
            ax.set_visible(False)
            continue
        for k, (name, values) in enumerate(zip(names, arrays)):
            curve = values[i][0] if values.ndim == 3 else values[i]  # first channel of a sequence
            ax.plot(curve, color=PALETTE[k], linewidth=1.3, label=name, alpha=0.9 if k else 1.0)
        ax.set_title(labels[i] if labels is not None else f"sample {i}", fontsize=9, fontweight="normal")
        ax.set_xlabel("time step" if arrays[0].ndim == 3 else "feature")
    axes[0].legend(loc="best")
    return fig


@house_style
def latent_traversal(images: np.ndarray, row_labels: Sequence[str], values: Sequence[float]) -> Figure:
    """Decodes ``(D, S, C, H, W)``: row ``d`` moves one latent unit through ``values`` (S), others fixed."""
    images = np.asarray(images, dtype=np.float64)
    rows, steps = images.shape[:2]
    fig = new_figure(0.95 * steps + 1.3, 0.95 * rows + 0.6)
    axes = fig.subplots(rows, steps, squeeze=False)
    vmin, vmax = _range(images)
    for r in range(rows):
        for c in range(steps):
            _show(axes[r, c], images[r, c], vmin, vmax)
            if r == rows - 1:
                axes[r, c].set_xlabel(f"{values[c]:+.1f}", fontsize=8)
        axes[r, 0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=9)
    return fig


@house_style
def score_histogram(scores: np.ndarray, labels: np.ndarray | None = None, threshold: float | None = None,
                    names: tuple[str, str] = ("normal", "anomaly")) -> Figure:
    """Histogram of anomaly scores ``(N,)``, split by binary ``labels`` (N,), with the decision threshold."""
    scores = np.asarray(scores, dtype=np.float64)
    fig = new_figure(7.0, 4.0)
    ax = fig.subplots()
    # A log axis when scores span decades (reconstruction errors of anomalies often do).
    log = scores.min() > 0 and scores.max() / scores.min() > 50
    edges = np.geomspace(scores.min(), scores.max(), 60) if log else np.linspace(scores.min(), scores.max(), 60)
    groups = [(scores, "all samples")] if labels is None else [
        (scores[np.asarray(labels) == k], f"{names[k]} (n={int(np.sum(np.asarray(labels) == k))})") for k in (0, 1)]
    for k, (values, label) in enumerate(groups):
        ax.hist(values, bins=edges, alpha=0.6, color=PALETTE[k], label=label, density=labels is not None)
    if log:
        ax.set_xscale("log")
    if threshold is not None:
        flagged = float(np.mean(scores > threshold))
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1.2,
                   label=f"threshold {threshold:.3g} ({flagged:.1%} flagged)")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("density" if labels is not None else "count")
    ax.legend(loc="upper right")
    return fig


@house_style
def roc_plot(fpr: np.ndarray, tpr: np.ndarray, auc: float, operating_point: tuple[float, float] | None = None) -> Figure:
    """ROC curve (false-positive rate vs true-positive rate) with its area and the threshold's point."""
    fig = new_figure(4.8, 4.6)
    ax = fig.subplots()
    ax.plot(fpr, tpr, color=PALETTE[0], label=f"ROC-AUC {auc:.3f}")
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1, label="chance")
    if operating_point is not None:
        ax.plot(*operating_point, "o", color=PALETTE[3], markersize=8, markeredgecolor="black",
                label="calibrated threshold")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.legend(loc="lower right")
    return fig
