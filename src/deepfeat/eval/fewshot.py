"""Few-label curves: how accuracy grows with 1, 5, 10, 50 labelled samples per class."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from deepfeat.data.checks import ArrayLike, as_numpy, check_arrays
from deepfeat.errors import ConfigError
from deepfeat.eval.evaluations import register_evaluation
from deepfeat.eval.probes import linear_probe


def draw_per_class(labels: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``shots`` samples of every class in ``labels (N,)``, drawn without replacement."""
    picks = [rng.choice(np.flatnonzero(labels == c), shots, replace=False) for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


@register_evaluation("fewshot", aliases=("few_shot", "few_label"), reads="train+test", needs_labels=True,
                     defaults={"shots": [1, 5, 10, 50], "draws": 5, "seed": 0, "C": 1.0, "max_iter": 1000,
                               "standardize": True}, derived=("sampling",),
                     outputs={"accuracy_by_shots": dict, "std_by_shots": dict, "skipped_shots": list})
def fewshot_accuracy(
    train_z: ArrayLike,
    train_y: ArrayLike,
    test_z: ArrayLike,
    test_y: ArrayLike,
    *,
    shots: Sequence[int] = (1, 5, 10, 50),
    draws: int = 5,
    seed: int = 0,
    C: float = 1.0,
    max_iter: int = 1000,
    standardize: bool = True,
) -> dict[str, Any]:
    """Linear-probe test accuracy from ``shots`` labelled training samples per class, averaged over draws.

    The semi-supervised evaluation of representations (e.g. SimCLR's 1% / 10% labels, Chen et al.,
    2020), here per class so every class is seen: for each number of shots, ``draws`` seeded
    subsets of the training features ``(N, D)`` train a :func:`linear_probe` scored on all test
    features. Shots larger than the smallest class are left out (listed in ``"skipped_shots"``).
    Returns ``{"accuracy_by_shots", "std_by_shots", "skipped_shots", "settings"}``.
    """
    check_arrays(train_z, train_y, "fewshot.train", kind="vector")
    ytr = as_numpy(train_y).astype(np.int64)
    shots = [int(s) for s in shots]
    if not shots or draws < 1 or min(shots) < 1:
        raise ConfigError(
            f"settings at fewshot: expected shots >= 1 and draws >= 1, got shots={shots}, draws={draws}. "
            "Use for example shots=[1, 5, 10, 50], draws=5."
        )
    smallest = int(np.unique(ytr, return_counts=True)[1].min())
    mean, std = {}, {}
    for n in [s for s in shots if s <= smallest]:
        accs = []
        for draw in range(draws):
            # One generator per (seed, shots, draw): adding a shot count never changes other draws.
            idx = draw_per_class(ytr, n, np.random.default_rng([seed, n, draw]))
            probe = linear_probe(as_numpy(train_z)[idx], ytr[idx], test_z, test_y, C=C, max_iter=max_iter,
                                 standardize=standardize, seed=seed)
            accs.append(probe["accuracy"])
        mean[n], std[n] = float(np.mean(accs)), float(np.std(accs))
    return {
        "accuracy_by_shots": mean,
        "std_by_shots": std,
        "skipped_shots": [s for s in shots if s > smallest],
        "settings": {"shots": shots, "draws": draws, "seed": seed, "C": C, "max_iter": max_iter,
                     "standardize": standardize, "sampling": "per_class_without_replacement"},
    }
