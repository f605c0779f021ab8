"""Anomaly scores from any learner's features: the distance to the nearest normal training samples.

Self-supervised features separate what the training data holds from what it does not, without a decoder or
a one-class objective; scoring a sample by its distance to its ``k`` nearest training features in that space
is the detector the literature pairs with them (Bergman, Cohen & Hoshen 2020, "Deep Nearest Neighbor Anomaly
Detection"; Tack et al. 2020, CSI; Sohn et al. 2021). :class:`FeatureBank` keeps the features of the training
data (collected once, after training, through the learner's ``on_fit_end`` hook) and scores by the mean distance
to the ``k`` nearest of them: cosine by default (CSI's, on L2-normalized features), or Euclidean (Bergman et al.'s
DN2), which also sees how far out a sample lies along a direction the normal data take. That matters on tables
standardized with the normal data's statistics, where an anomaly can point the way normal samples do from the
centre, only further out.

A label-free learner offers it as a registered variant of its own (:func:`knn_variant`: ``simclr_knn``,
``vicreg_knn``, ``mae_knn``): the same model, whose class declares the ``scores`` capability, the ``anomaly``
evaluation and its figures like any detector's, so the declarations are read from the registry entry and
``deepfeat score`` and the one-class evaluations work with it. The bank is saved with the weights (its size is
known only once filled, so loading resizes it).
"""

from __future__ import annotations

from typing import Any, Callable, ContextManager, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from deepfeat.checks import check_positive_int
from deepfeat.errors import ConfigError, TrainingError
from deepfeat.learners.base import Learner

L = TypeVar("L", bound=type[Learner])
KNN_DEFAULT = 5  # neighbours a variant's score averages unless told
Keep = Callable[[torch.Tensor], torch.Tensor]  # what the bank keeps of features (B, D)
Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # kept queries (B, D), kept bank (N, D) -> (B, N)
METRICS: dict[str, tuple[Keep, Distance]] = {
    "cosine": (lambda z: F.normalize(z, dim=1), lambda q, bank: 1 - q @ bank.T),
    "euclidean": (lambda z: z, torch.cdist),
}


class FeatureBank(nn.Module):
    """Training features ``(N, D)`` (L2-normalized for the cosine metric) and the kNN score of new features."""

    def __init__(self, dim: int, k: int = 5, max_size: int = 20000, seed: int = 0, metric: str = "cosine") -> None:
        super().__init__()
        self.k = check_positive_int(k, "learner.knn_k")
        self.max_size = check_positive_int(max_size, "learner.knn_bank_size")
        if metric not in METRICS:
            raise ConfigError(f"kNN distance at learner.knn_metric: expected one of {sorted(METRICS)}, got {metric!r}. "
                              "Use cosine (the default) or euclidean.")
        self.metric = metric
        self.keep, self.distance = METRICS[metric]
        self.seed = seed
        self.register_buffer("bank", torch.zeros(0, dim))

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        # The bank's length is the training set's (up to max_size): take the saved one's shape before loading.
        saved = state_dict.get(prefix + "bank")
        if saved is not None:
            self.bank = torch.zeros_like(saved, device=self.bank.device, dtype=self.bank.dtype)
        super()._load_from_state_dict(state_dict, prefix, *args)

    @torch.no_grad()
    def fill(self, embed: Callable[[torch.Tensor], torch.Tensor], batches: Any,
             prepare: Callable[[torch.Tensor], torch.Tensor], autocast: Callable[[], ContextManager[Any]]) -> None:
        """Collect ``embed`` of every training batch (a seeded subset of ``max_size`` when there are more)."""
        parts = []
        for x, _ in batches:
            with autocast():
                parts.append(self.keep(embed(prepare(x)).float()))
        z = torch.cat(parts)
        if len(z) > self.max_size:
            keep = torch.randperm(len(z), generator=torch.Generator().manual_seed(self.seed))[: self.max_size]
            z = z[keep.to(z.device)]
        self.bank = z.to(self.bank.device)

    @torch.no_grad()
    def score(self, z: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """Mean distance (the bank's metric) of each of ``z (B, D)`` to its ``k`` nearest bank features: ``(B,)``."""
        if len(self.bank) == 0:
            raise TrainingError("kNN anomaly scores at learner.knn_k: expected a bank of training features, got none "
                                "(it is filled when training ends). Train the learner before scoring.")
        z = self.keep(z.float())
        k = min(self.k, len(self.bank))
        nearest = [self.distance(z, part) for part in self.bank.split(chunk)]
        return torch.cat(nearest, 1).topk(k, dim=1, largest=False).values.mean(1)


def add_knn_scores(learner: Learner, k: int | None, max_size: int, metric: str | None = None) -> FeatureBank | None:
    """The feature bank of a kNN-scoring variant (its class's ``knn_default`` >= 1), else ``None``.

    ``k``: the neighbours a score averages; ``None`` is the class's default. ``metric``: a :data:`METRICS` name,
    ``None`` for cosine. A learner that does not declare scores refuses a ``k`` or a ``metric``, naming the
    variant that does (declarations are the class's, never the instance's).
    """
    default, name = type(learner).knn_default, type(learner).knn_name  # type: ignore[attr-defined]
    if default == 0:
        if k or metric:
            key, value = ("knn_k", k) if k else ("knn_metric", metric)
            raise ConfigError(f"learner '{name}' at learner.{key}: expected none (this learner does not score "
                              f"anomalies), got {value!r}. Use learner: {name}_knn, which scores by kNN distance.")
        return None
    return FeatureBank(learner.feature_dim, default if k is None else k, max_size, metric=metric or "cosine")


def knn_variant(base: L) -> L:
    """The registered kNN-scoring variant ``<knn_name>_knn`` of the label-free learner ``base``: the same model,
    with the ``scores`` capability, the ``anomaly`` evaluation, its figures and its headline declared on the class."""
    return type(f"{base.__name__}KNN", (base,), {  # type: ignore[return-value]
        "__doc__": f"{base.__name__} whose features also score anomalies: the mean cosine distance to the k nearest "
                   f"training features (:mod:`{__name__}`).",
        "__module__": base.__module__,
        "knn_default": KNN_DEFAULT,
        "capabilities": base.capabilities | {"scores"},
        "evaluations": (*base.evaluations, "anomaly"),
        "figures": (*base.figures, "anomaly_scores", "roc_curve"),
        "headline": (("anomaly ROC-AUC (kNN)", "evaluations.anomaly.roc_auc"), *base.headline),
    })
