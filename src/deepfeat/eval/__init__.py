"""Evaluators: pure functions over features (probes, kNN, ...), registered as metrics."""

from deepfeat.eval.probes import EVALUATORS, knn_accuracy, linear_probe

__all__ = ["EVALUATORS", "knn_accuracy", "linear_probe"]
