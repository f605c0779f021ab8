"""Evaluate a trained learner on its data: test metrics, feature probes, and the standard plots.

The probes are the pure functions of ``deepfeat.eval``; this module only extracts features with
the learner and records each result next to the settings that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepfeat.config import EvaluationConfig
from deepfeat.data.splits import DataBundle
from deepfeat.engine.device import Precision
from deepfeat.engine.inference import collect
from deepfeat.engine.trainer import evaluate_split
from deepfeat.eval.probes import knn_accuracy, linear_probe
from deepfeat.learners.base import Learner
from deepfeat.reports.figures import save_figure
from deepfeat.reports.plots import confusion_matrix_plot, embedding_map


@dataclass
class Features:
    """Features ``z (N, D)`` of the evaluation split, its labels and (for classifiers) predictions."""

    z: np.ndarray
    y: np.ndarray | None
    predictions: np.ndarray | None = None
    split: str = "test"


def evaluate_learner(learner: Learner, data: DataBundle, cfg: EvaluationConfig, precision: Precision,
                     batch_size: int = 1024) -> tuple[dict[str, Any], Features | None]:
    """Test metrics and probe results (``{"test": ..., "evaluations": ...}``) plus the features used."""
    split_name, split = ("test", data.test) if data.test is not None else ("val", data.val)
    if split is None:
        return {"test": {}, "evaluations": {}}, None
    results: dict[str, Any] = {"test": evaluate_split(learner, split, split_name, precision, batch_size)}
    train_z, train_y = collect(learner, data.train, precision, learner.embed, batch_size, cfg.max_samples)
    z, y = collect(learner, split, precision, learner.embed, batch_size, cfg.max_samples)
    evaluations: dict[str, Any] = {}
    if train_y is not None and y is not None:
        if cfg.linear_probe:
            evaluations["linear_probe"] = linear_probe(train_z, train_y, z, y, C=cfg.probe_C)
        evaluations["knn"] = knn_accuracy(train_z, train_y, z, y, k=cfg.knn_k, metric=cfg.knn_metric)
        for result in evaluations.values():
            result["settings"].update({"train_samples": len(train_z), "eval_split": split_name, "eval_samples": len(z)})
    predictions = None
    if hasattr(learner, "predict_proba") and y is not None:
        logits, _ = collect(learner, split, precision, learner, batch_size, cfg.max_samples)
        predictions = logits.argmax(1)
    evaluations.update(learner.evaluate_run(data, precision))
    results["evaluations"] = evaluations
    return results, Features(z, y, predictions, split_name)


def plot_features(run_dir: Path, features: Features, class_names: list[str], cfg: EvaluationConfig, seed: int = 0) -> list[Path]:
    """Embedding maps (one per method in ``cfg.embedding_plots``) and, for classifiers, a confusion matrix."""
    paths = []
    for method in cfg.embedding_plots:
        fig = embedding_map(features.z, features.y, method=method, class_names=class_names or None, seed=seed)
        paths.append(save_figure(
            fig, run_dir, f"embedding_{method}", title=f"Learned features ({method.upper()})", section="Features",
            caption=f"The {features.split} split's features projected to 2-D with {method.upper()}, coloured by label: "
                    "well-separated clusters mean the features carry the class."))
    if features.predictions is not None and features.y is not None:
        fig = confusion_matrix_plot(features.y, features.predictions, class_names or None)
        paths.append(save_figure(
            fig, run_dir, "confusion_matrix", title="Confusion matrix", section="Evaluation",
            caption=f"Predictions of the trained classifier on the {features.split} split (rows: true class)."))
    return paths
