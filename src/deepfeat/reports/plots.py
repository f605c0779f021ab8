"""Standard plots of a run: training curves, 2-D embedding maps and confusion matrices.

Each function takes plain rows or arrays and returns a ``matplotlib.figure.Figure`` in the house
style; pass it to :func:`~deepfeat.reports.figures.save_figure` to add it to a run's report.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from deepfeat.errors import DataError
from deepfeat.keys import SPLITS, split_key
from deepfeat.reports.embedding import Projection, project
from deepfeat.reports.figures import PALETTE, house_style, new_figure, save_figure
from deepfeat.reports.readers import Row, as_float, read_metrics, read_results

# One colour per split in every plot, so "val" always looks the same.
SPLIT_COLORS = {split: PALETTE[i] for i, split in enumerate(SPLITS)}
PRETTY = {"acc": "accuracy", "lr": "learning rate", "knn_acc": "kNN accuracy"}


def _pretty(name: str) -> str:
    return PRETTY.get(name, name.replace("_", " "))


def _lower_is_better(name: str) -> bool:
    return any(word in name for word in ("loss", "err", "mse", "ppl"))


def _best_epoch(epochs: np.ndarray, rows: list[Row], monitor: str) -> int | None:
    values = np.array([as_float(r.get(monitor)) for r in rows])
    if not np.isfinite(values).any():
        return None
    pick = np.nanargmin if _lower_is_better(split_key(monitor)[1]) else np.nanargmax
    return int(epochs[pick(values)])


@house_style
def training_curves(
    rows: Sequence[Row], *, best_epoch: int | None = None, monitor: str = "val/loss"
) -> Figure:
    """One panel per metric (train/val overlaid) plus learning rate, against epoch.

    ``rows`` are ``metrics.csv`` rows (strings or numbers; empty cells are skipped). The best epoch
    is ``best_epoch`` or, when ``None``, the best ``monitor`` value; it is marked on every panel.
    """
    rows = list(rows)
    if not rows:
        raise DataError("metrics rows at training_curves: expected at least one epoch, got none")
    epochs = np.array([as_float(r.get("epoch", i + 1)) for i, r in enumerate(rows)])
    by_name: dict[str, list[str]] = {}
    for key in rows[0]:
        split, name = split_key(key)
        if split and np.isfinite([as_float(r.get(key)) for r in rows]).any():
            by_name.setdefault(name, []).append(key)
    lr = np.array([as_float(r.get("lr")) for r in rows])
    panels = list(by_name) + (["lr"] if np.isfinite(lr).any() else [])
    if not panels:
        raise DataError(
            f"metrics rows at training_curves: expected columns like 'train/loss', got {list(rows[0])}"
        )
    if best_epoch is None:
        best_epoch = _best_epoch(epochs, rows, monitor)

    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = new_figure(3.9 * ncols, 3.1 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, name in zip(axes, panels):
        if name == "lr":
            _curve(ax, epochs, lr, "lr", PALETTE[3])
        else:
            for key in by_name[name]:
                split = split_key(key)[0]
                values = np.array([as_float(r.get(key)) for r in rows])
                _curve(ax, epochs, values, split, SPLIT_COLORS.get(split, PALETTE[4]))
        _decorate(ax, name, best_epoch)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    return fig


def _curve(ax: Axes, x: np.ndarray, y: np.ndarray, label: str, color: Any) -> None:
    ok = np.isfinite(x) & np.isfinite(y)
    # Markers make short runs (a few epochs) readable; on long runs they would only add clutter.
    marker = "o" if ok.sum() <= 30 else None
    ax.plot(x[ok], y[ok], label=label, color=color, marker=marker, markersize=3.5)


def _decorate(ax: Axes, name: str, best_epoch: int | None) -> None:
    ax.set_title(_pretty(name))
    ax.set_xlabel("epoch")
    ax.set_ylabel(_pretty(name))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ys = np.concatenate([line.get_ydata() for line in ax.get_lines()])
    # Log scale only when values span decades (typical of LR warmup/decay and early losses).
    if len(ys) and ys.min() > 0 and ys.max() / ys.min() >= (10 if name == "lr" else 100):
        ax.set_yscale("log")
    if best_epoch is not None:
        val = [line for line in ax.get_lines() if line.get_label() == "val"]
        ax.axvline(best_epoch, color="0.45", linestyle="--", linewidth=1, label=f"best (epoch {best_epoch})")
        hit = np.flatnonzero(val[0].get_xdata() == best_epoch) if val else []
        if len(hit):
            y = val[0].get_ydata()[hit[0]]
            ax.plot(best_epoch, y, "o", color=val[0].get_color(), markersize=8, markeredgecolor="black", zorder=5)
    if name != "lr":
        ax.legend(loc="best")


@house_style
def embedding_map(
    z: np.ndarray,
    y: np.ndarray | None = None,
    method: str = "pca",
    class_names: Sequence[str] | None = None,
    max_points: int = 2000,
    seed: int = 0,
    groups: Mapping[str, np.ndarray] | None = None,
) -> Figure:
    """Scatter of features ``z`` ``(N, D)`` projected to 2-D, coloured by labels ``y`` ``(N,)``.

    ``method`` is ``"pca"``, ``"tsne"`` or ``"umap"`` (needs ``deepfeat[umap]``). At most
    ``max_points`` points (a seeded random subset) are shown, which keeps t-SNE fast. Up to 10
    classes get a legend and a bold name at each class median; more get a colorbar. Each entry of
    ``groups`` (``{name: (N,) values}``, per-sample metadata such as the speaker) adds a panel of the
    same projection coloured by it, so one sees whether the features carry the label or the group.
    """
    proj = project(z, y, method, max_points=max_points, seed=seed)
    panels: list[tuple[str, np.ndarray | None, Sequence[str] | None]] = [("class", proj.labels, class_names or proj.names)]
    for name, values in (groups or {}).items():
        values = np.asarray(values)
        if len(values) != proj.n_total:
            raise DataError(f"groups at embedding_map: expected {proj.n_total} '{name}' values (one per row of z), "
                            f"got {len(values)}")
        names, codes = np.unique(values.astype(str)[proj.index], return_inverse=True)
        panels.append((name, codes, [str(n) for n in names]))
    fig = new_figure(7.2 * len(panels), 5.6)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, labels, names) in zip(axes, panels):
        _map_panel(fig, ax, proj, labels, names, title)
    if len(panels) > 1:
        for ax, (title, _, _) in zip(axes, panels):
            ax.set_title(f"{ax.get_title()}\ncoloured by {title}")
    return fig


def _map_panel(fig: Figure, ax: Axes, proj: Projection, labels: np.ndarray | None, names: Sequence[str] | None,
               title: str) -> None:
    """One scatter of a projection, coloured by ``labels`` (categorical or continuous) and legended ``title``."""
    p = proj.points
    size = float(np.clip(8000 / len(p), 3, 30))
    if labels is None:
        ax.scatter(p[:, 0], p[:, 1], s=size, color=PALETTE[0], alpha=0.7, linewidths=0)
    elif labels.dtype.kind == "f":
        sc = ax.scatter(p[:, 0], p[:, 1], s=size, c=labels, alpha=0.8, linewidths=0)
        fig.colorbar(sc, ax=ax, label="target value")
    else:
        # Names at the medians only for the label: a group such as the speaker is often spread over the map.
        _categorical(fig, ax, p, labels, _class_names(labels, names), size, title, names_on_map=title == "class")
    ax.set_xlabel(proj.axis_labels[0])
    ax.set_ylabel(proj.axis_labels[1])
    if proj.method != "pca":
        # t-SNE/UMAP coordinates have no meaning of their own; only neighbourhoods do.
        ax.tick_params(labelbottom=False, labelleft=False, length=0)
    else:
        ax.set_aspect("equal", adjustable="datalim")
    shown = f"{len(p)} of {proj.n_total}" if len(p) < proj.n_total else f"{len(p)}"
    ax.set_title(f"{proj.title} of {proj.dim}-d features ({shown} points)")


def _class_names(labels: np.ndarray, class_names: Sequence[str] | None) -> list[str]:
    k = int(labels.max()) + 1
    if class_names is None:
        return [str(i) for i in range(k)]
    if len(class_names) < k:
        raise DataError(
            f"class_names at embedding_map: expected at least {k} names for labels up to {k - 1}, "
            f"got {len(class_names)}. Pass one name per class."
        )
    return list(class_names)


def _categorical(
    fig: Figure, ax: Axes, p: np.ndarray, labels: np.ndarray, names: list[str], size: float, title: str = "class",
    names_on_map: bool = True,
) -> None:
    if len(names) > len(PALETTE):
        sc = ax.scatter(p[:, 0], p[:, 1], s=size, c=labels, cmap="turbo", alpha=0.8, linewidths=0)
        fig.colorbar(sc, ax=ax, label=f"{title} index")
        return
    present = np.unique(labels)
    for k in present:
        pts = p[labels == k]
        ax.scatter(pts[:, 0], pts[:, 1], s=size, color=PALETTE[k], alpha=0.75, linewidths=0, label=names[k])
    # Names go on after all points so no cluster's dots hide another cluster's name.
    halo = [patheffects.withStroke(linewidth=3, foreground="white")]
    for k in present if names_on_map else ():
        mx, my = np.median(p[labels == k], axis=0)
        ax.text(mx, my, names[k], ha="center", va="center", fontsize=13, fontweight="bold",
                color=PALETTE[k], path_effects=halo)
    legend = ax.legend(title=title, loc="center left", bbox_to_anchor=(1.01, 0.5))
    for handle in legend.legend_handles:
        handle.set_sizes([40])
        handle.set_alpha(1.0)


@house_style
def confusion_matrix_plot(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str] | None = None
) -> Figure:
    """Row-normalized confusion matrix (colour = fraction of the true class, text = counts)."""
    from sklearn.metrics import confusion_matrix

    t, p = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if t.shape != p.shape or t.size == 0 or t.dtype.kind not in "iu" or p.dtype.kind not in "iu":
        raise DataError(
            f"labels at confusion_matrix_plot: expected two equal-length non-empty integer arrays, "
            f"got {t.dtype}{t.shape} and {p.dtype}{p.shape}"
        )
    k = max(len(class_names or ()), int(max(t.max(), p.max())) + 1)
    names = list(class_names) if class_names else [str(i) for i in range(k)]
    counts = confusion_matrix(t, p, labels=np.arange(k))
    norm = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)

    side = float(np.clip(0.42 * k + 2.2, 4.5, 11))
    fig = new_figure(side + 1.0, side)
    ax = fig.subplots()
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="fraction of true class", shrink=0.8)
    if k <= 20:
        fontsize = 9 if k <= 10 else 7
        for i, j in np.ndindex(k, k):
            if counts[i, j]:
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=fontsize,
                        color="white" if norm[i, j] > 0.55 else "black")
    # Long class names would overlap horizontally; tilt them only when needed.
    tilt = max(map(len, names)) > 3
    ax.set_xticks(np.arange(k), names, rotation=45 if tilt else 0, ha="right" if tilt else "center")
    ax.set_yticks(np.arange(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion matrix: accuracy {np.mean(t == p):.1%} (n={t.size})")
    return fig


def plot_training_curves_to(run_dir: str | os.PathLike[str]) -> Path | None:
    """Plot ``metrics.csv`` into ``plots/training_curves.png``; ``None`` when there are no metrics."""
    rows = read_metrics(run_dir)
    if not rows:
        return None
    fit = (read_results(run_dir) or {}).get("fit", {})
    best = fit.get("best_epoch")
    fig = training_curves(rows, best_epoch=int(best) if isinstance(best, (int, float)) else None)
    caption = "Loss and metrics per epoch on the training and validation splits, and the learning rate."
    if best is not None:
        caption += f" The dashed line marks the best epoch ({best})."
    return save_figure(fig, run_dir, "training_curves", title="Training curves", caption=caption)
