"""Clustering of learned features: do k-means clusters recover the classes? (NMI and ARI)."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepfeat.data.checks import ArrayLike, as_numpy, check_arrays
from deepfeat.errors import ConfigError
from deepfeat.eval.evaluations import register_evaluation


@register_evaluation("cluster", aliases=("kmeans",), reads="test", needs_labels=True,
                     defaults={"n_clusters": None, "n_init": 10, "max_iter": 300, "l2_normalize": True, "seed": 0},
                     derived=("algorithm",), outputs={"nmi": float, "ari": float})
def cluster_scores(
    z: ArrayLike,
    y: ArrayLike,
    *,
    n_clusters: int | None = None,
    n_init: int = 10,
    max_iter: int = 300,
    l2_normalize: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """k-means on features ``z (N, D)`` scored against labels ``y (N,)`` with NMI and ARI.

    The clustering evaluation of representations used e.g. by DeepCluster (Caron et al., 2018):
    k-means (Lloyd, k-means++ init, best of ``n_init`` seeded restarts) with one cluster per class
    by default; NMI (Strehl & Ghosh, 2002; arithmetic normalisation) and ARI (Hubert & Arabie,
    1985) are 1 for a perfect match and about 0 for a random partition. With ``l2_normalize`` the
    rows are put on the unit sphere first, so clusters follow the cosine geometry kNN uses.
    Returns ``{"nmi", "ari", "settings"}``.
    """
    check_arrays(z, y, "cluster", kind="vector")
    x, labels = as_numpy(z).astype(np.float64), as_numpy(y).astype(np.int64)
    k = len(np.unique(labels)) if n_clusters is None else n_clusters
    if not 2 <= k <= len(x):
        raise ConfigError(
            f"n_clusters at cluster.n_clusters: expected 2..{len(x)} (the samples), got {k}. "
            "Evaluate on labelled data with at least 2 classes, or set n_clusters."
        )
    if l2_normalize:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    from sklearn.cluster import KMeans  # imported here: scikit-learn takes ~1 s to import
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    assigned = KMeans(n_clusters=k, n_init=n_init, max_iter=max_iter, random_state=seed).fit_predict(x)
    return {
        "nmi": float(normalized_mutual_info_score(labels, assigned)),
        "ari": float(adjusted_rand_score(labels, assigned)),
        "settings": {"n_clusters": k, "n_init": n_init, "max_iter": max_iter, "l2_normalize": l2_normalize,
                     "seed": seed, "algorithm": "lloyd"},
    }
