"""Diagnostic figures: activation histograms per layer, gradient flow, the LR range test, comparisons.

Built like every report figure (``new_figure`` under ``house_style``) and saved with ``save_figure``
in the report's "Diagnostics" section.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepfeat.eval.training_stats import TrainingStats

if TYPE_CHECKING:  # a type only: the reports draw a finished result and never run the engine
    from deepfeat.engine.lr_find import LRFindResult
from deepfeat.reports.figures import PALETTE, house_style, new_figure, save_figure
from deepfeat.reports.readers import Row, as_float

MAX_PANELS = 12
LINESTYLES = ("-", "--", ":", "-.")
SECTION = "Diagnostic plots"


def _pick(indices: list[int], most: int) -> list[int]:
    """At most ``most`` of ``indices``, evenly spread and always keeping the first and the last."""
    if len(indices) <= most:
        return indices
    return [indices[int(round(k))] for k in np.linspace(0, len(indices) - 1, most)]


@house_style
def activation_histograms(stats: TrainingStats) -> Figure:
    """Per layer, the distribution of activation values at the first (grey) and the last sampled step."""
    shown = _pick(sorted(stats.last_values), MAX_PANELS)
    ncols = min(4, max(len(shown), 1))
    nrows = max(1, math.ceil(len(shown) / ncols))
    fig = new_figure(3.0 * ncols, 2.3 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    first_step, last_step = stats.samples[0]["step"], stats.samples[-1]["step"]
    for ax, i in zip(axes, shown):
        layer, late = stats.layers[i], stats.last_values[i]
        early = stats.first_values.get(i, late)
        both = np.concatenate([early, late])
        both = both[np.isfinite(both)]
        lo, hi = np.percentile(both, [0.5, 99.5]) if len(both) else (0.0, 1.0)
        bins = np.linspace(lo, hi if hi > lo else lo + 1e-6, 41)
        # Densities: the first and the last sampled batch may differ in size.
        ax.hist(np.clip(early, lo, hi), bins=bins, density=True, color="0.6", alpha=0.6, label=f"step {first_step}")
        ax.hist(np.clip(late, lo, hi), bins=bins, density=True, color=PALETTE[0], alpha=0.55, label=f"step {last_step}")
        ax.set_title(f"layer {layer.index} \u00b7 {layer.activation}", fontsize=10)
        ax.tick_params(labelleft=False)
        if layer.family == "relu":  # log counts: the spike at 0 would hide the active units' values
            ax.set_yscale("log")
            ax.text(0.97, 0.92, f"{np.mean(late <= 0):.0%} \u2264 0", transform=ax.transAxes, ha="right", fontsize=8)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    if shown:
        axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Activation values per layer")
    return fig


def _by_layer(ax: Axes, stats: TrainingStats, key: str, title: str, log: bool = True) -> None:
    x = np.array([layer.index for layer in stats.layers])
    picks = _pick(list(range(len(stats.samples))), 4)
    colors = [PALETTE[0]] if len(picks) == 1 else [(0.75 - 0.65 * k / (len(picks) - 1),) * 2 + (0.95,)
                                                     for k in range(len(picks))]
    for color, s in zip(colors, picks):
        sample = stats.samples[s]
        y = np.array([float(r.get(key, np.nan)) for r in sample["layers"]])
        ok = np.isfinite(y) & ((y > 0) if log else True)
        ax.plot(x[ok], y[ok], marker="o", markersize=3, color=color, label=f"step {sample['step']} (epoch {sample['epoch']})")
    if log and ax.get_lines():
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("layer (1 = first)")


@house_style
def gradient_flow_chart(stats: TrainingStats) -> Figure:
    """Gradient norm, update/weight ratio and activation spread by layer, at a few sampled steps."""
    fig = new_figure(13.0, 3.6)
    axes = fig.subplots(1, 3)
    _by_layer(axes[0], stats, "grad_norm", "Weight-gradient norm")
    _by_layer(axes[1], stats, "update_ratio", "Update / weight ratio")
    axes[1].axhspan(1e-4, 1e-2, color=PALETTE[2], alpha=0.12, label="typical range")
    _by_layer(axes[2], stats, "sample_std", "Activation spread across samples")
    axes[0].legend(loc="best", fontsize=8)
    axes[1].legend(handles=axes[1].patches[:1], loc="best", fontsize=8)
    for ax in axes:
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle("Gradient flow: flat lines are healthy; a slope of decades means vanishing or exploding")
    return fig


@house_style
def lr_find_plot(result: LRFindResult, current_lr: float | None = None) -> Figure:
    """Loss against learning rate (log scale): raw, smoothed, the suggestion and the configured lr."""
    fig = new_figure(7.0, 4.2)
    ax = fig.subplots()
    lrs, smoothed = np.asarray(result.lrs), np.asarray(result.smoothed)
    ax.plot(lrs, result.losses, color="0.7", linewidth=1, label="loss per batch")
    ax.plot(lrs, smoothed, color=PALETTE[0], label="smoothed")
    if result.suggestion is not None:
        ax.axvline(result.suggestion, color=PALETTE[2], linestyle="--", label=f"suggested {result.suggestion:.2g}")
    if current_lr is not None:
        ax.axvline(current_lr, color=PALETTE[1], linestyle=":", label=f"configured {current_lr:.2g}")
    ax.set_xscale("log")
    if len(smoothed):  # single noisy batches would flatten the curve; a flat sweep must not zoom into noise
        i_min = int(np.nanargmin(smoothed))  # above the start, the diverging tail only squeezes the rest
        lo, hi = float(smoothed[i_min]), float(np.nanmax(smoothed[: i_min + 1]))
        span = max(hi - lo, 0.05 * abs(hi), 1e-6)
        ax.set_ylim(lo - 0.1 * span, hi + 0.3 * span)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title("Learning-rate range test (Smith 2017)")
    ax.legend(loc="lower left")
    return fig


@house_style
def comparison_curves(curves: dict[str, list[list[Row]]], metrics: Sequence[str],
                      styles: dict[str, tuple[int, int]] | None = None) -> Figure:
    """One panel per metric, one line per variant (mean over seeds, band = min..max over seeds).

    ``styles`` maps a variant to (colour index, line-style index), so a 2-D grid reads as colour x style.
    """
    ncols = min(3, max(len(metrics), 1))
    nrows = max(1, math.ceil(len(metrics) / ncols))
    fig = new_figure(4.3 * ncols, 3.3 * nrows + 0.5)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    styles = styles or {label: (i % len(PALETTE), i // len(PALETTE)) for i, label in enumerate(curves)}
    for ax, metric in zip(axes, metrics):
        for label, runs in curves.items():
            color, dash = PALETTE[styles[label][0] % len(PALETTE)], LINESTYLES[styles[label][1] % len(LINESTYLES)]
            n = min(len(rows) for rows in runs)
            y = np.array([[as_float(r.get(metric)) for r in rows[:n]] for rows in runs])
            if not n or not np.isfinite(y).any():
                continue
            x = np.arange(1, n + 1)
            line, = ax.plot(x, np.nanmean(y, axis=0), color=color, linestyle=dash, label=label)
            if len(runs) > 1:
                ax.fill_between(x, np.nanmin(y, axis=0), np.nanmax(y, axis=0), color=line.get_color(), alpha=0.15)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        if "loss" in metric and ax.get_lines():
            ys = np.concatenate([ln.get_ydata() for ln in ax.get_lines()])
            if np.nanmin(ys) > 0 and np.nanmax(ys) / np.nanmin(ys) > 30:
                ax.set_yscale("log")
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    if len(axes) > len(metrics):  # an empty panel holds the legend, one variant per line, readable
        axes[len(metrics)].set_visible(True)
        axes[len(metrics)].axis("off")
        axes[len(metrics)].legend(handles, labels, loc="center", fontsize=9, frameon=False, title="variant")
    else:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(6, len(labels)), fontsize=8)
    return fig


def save_diagnostic_plots(run_dir: str | os.PathLike[str], stats: TrainingStats) -> list[Path]:
    """Activation histograms and the gradient-flow chart of a run, saved into its report."""
    if not stats.samples:
        return []
    paths = [save_figure(gradient_flow_chart(stats), run_dir, "gradient_flow", title="Gradient flow", section=SECTION,
                         caption="Per layer at a few sampled steps (darker = later): weight-gradient norm, the step's "
                                 "change relative to the weights, and how much activations vary across the batch.")]
    if stats.last_values:
        paths.append(save_figure(activation_histograms(stats), run_dir, "activation_histograms", section=SECTION,
                                 title="Activation histograms", caption="Activation values per layer at the first "
                                 "(grey) and the last sampled step (blue). A spike at 0 for ReLU means silent units; "
                                 "mass at 0 and 1 for sigmoid (or -1, 1 for tanh) means saturation."))
    return paths


def save_lr_find_plot(run_dir: str | os.PathLike[str], result: LRFindResult, current_lr: float | None = None) -> Path:
    """The LR range test figure, saved into ``run_dir``'s report."""
    return save_figure(lr_find_plot(result, current_lr), run_dir, "lr_find", title="Learning-rate range test",
                       section=SECTION, caption=f"Suggested lr {result.suggestion:.2g}: {result.reason}."
                       if result.suggestion is not None else result.reason)

