"""Plots and the HTML run report: ``save_figure`` adds a plot, ``write_report`` renders the run."""

from __future__ import annotations

from deepfeat.reports.embedding import Projection, project
from deepfeat.reports.figures import PALETTE, STYLE, house_style, new_figure, read_index, save_figure
from deepfeat.reports.html import write_report
from deepfeat.reports.plots import (
    confusion_matrix_plot,
    embedding_map,
    plot_training_curves_to,
    training_curves,
)
from deepfeat.reports.readers import read_config, read_metrics, read_results

__all__ = [
    "PALETTE",
    "STYLE",
    "Projection",
    "confusion_matrix_plot",
    "embedding_map",
    "house_style",
    "new_figure",
    "plot_training_curves_to",
    "project",
    "read_config",
    "read_index",
    "read_metrics",
    "read_results",
    "write_report",
    "save_figure",
    "training_curves",
]
