"""Evaluators: pure functions over features (probes, kNN, clustering, few-label curves, health) and the protocol.

Importing this package registers the feature protocols in the one evaluation registry (:mod:`.evaluations`)."""

from deepfeat.eval.cluster import cluster_scores
from deepfeat.eval.fewshot import fewshot_accuracy
from deepfeat.eval.health import effective_rank, feature_health, normalized_std
from deepfeat.eval.evaluations import EVALUATIONS, EvaluationSpec, evaluation_spec, register_evaluation
from deepfeat.eval.probes import knn_accuracy, linear_probe
from deepfeat.eval.protocol import fingerprint, resolve_protocols, run_protocol
from deepfeat.eval.retrieval import exact_search, retrieval_scores

__all__ = [
    "EVALUATIONS", "EvaluationSpec", "cluster_scores", "effective_rank", "exact_search", "feature_health",
    "fewshot_accuracy", "fingerprint", "knn_accuracy", "linear_probe", "normalized_std", "register_evaluation",
    "resolve_protocols", "retrieval_scores", "run_protocol", "evaluation_spec",
]
