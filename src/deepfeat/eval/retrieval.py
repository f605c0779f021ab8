"""Retrieval: how often a sample's nearest neighbours in feature space share its label.

The standard measure of an embedding in metric learning. Test samples are the queries, training samples
the collection searched, labels the relevance. Pure functions of arrays: exact search in chunks with
torch (one ``(chunk, N_train)`` similarity block at a time), the same ranking :mod:`deepfeat.run.retrieval`
serves from a saved index. The searches are registered (:data:`SEARCHES`): ``exact`` here, ``faiss`` (FAISS'
flat indexes, Johnson et al. 2019) when ``faiss-cpu`` is installed; both return the same neighbours.
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

import numpy as np
import torch

from deepfeat.data.checks import ArrayLike, as_numpy, check_arrays
from deepfeat.errors import ConfigError
from deepfeat.eval.evaluations import register_evaluation
from deepfeat.registry import Registry

Metric = Literal["cosine", "euclidean"]
METRICS = ("cosine", "euclidean")
# Distances held at once (query rows x collection rows): a 256 MB float32 block, whatever the collection size.
BLOCK = 2 ** 26


Search = tuple[np.ndarray, np.ndarray]  # distances (Q, k) float32, indices (Q, k) int64
SEARCHES: Registry[Search] = Registry("search", plural="searches", takes="positional")


def check_metric(metric: str, where: str) -> None:
    """ConfigError unless ``metric`` is one of :data:`METRICS`."""
    if metric not in METRICS:
        raise ConfigError(f"metric at {where}: expected 'cosine' or 'euclidean', got {metric!r}. Pick one of those.")


@SEARCHES.register("exact", description="exact search in blocks with torch matrix products")
def exact_search(collection: ArrayLike, queries: ArrayLike, k: int, metric: Metric = "cosine") -> Search:
    """The ``k`` nearest rows of ``collection (N, D)`` to each row of ``queries (Q, D)``, nearest first.

    Returns ``(distances (Q, k) float32, indices (Q, k) int64)``: cosine distance ``1 - cos`` or Euclidean
    distance. Queries go in blocks of at most :data:`BLOCK` distances, so memory stays flat for a 1M collection.
    """
    check_metric(metric, "exact_search")
    a = torch.as_tensor(as_numpy(collection), dtype=torch.float32)
    q = torch.as_tensor(as_numpy(queries), dtype=torch.float32)
    k = min(int(k), len(a))
    if metric == "cosine":
        a, q = torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(q, dim=1)
    # Ranked by ||a||^2 - 2<q, a> (cosine: -<q, a>), one fused matrix product per block; the query's own term
    # does not change its ranking and is added to the k kept only.
    offset = torch.zeros(len(a)) if metric == "cosine" else (a * a).sum(1)
    dists, idx = [], []
    rows = max(1, BLOCK // max(len(a), 1))
    for start in range(0, len(q), rows):
        block = q[start:start + rows]
        top = torch.addmm(offset, block, a.T, alpha=-2 if metric == "euclidean" else -1).topk(k, dim=1, largest=False)
        own = 1.0 if metric == "cosine" else (block * block).sum(1, keepdim=True)
        dists.append((top.values + own).clamp_min(0))  # rounding can leave a hair below 0
        idx.append(top.indices)
    if not dists:
        return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
    out = torch.cat(dists)
    return (out.sqrt() if metric == "euclidean" else out).numpy(), torch.cat(idx).numpy()


@SEARCHES.register("faiss", description="FAISS' exact flat index (IndexFlatIP for cosine, IndexFlatL2): pip install faiss-cpu")
def faiss_search(collection: ArrayLike, queries: ArrayLike, k: int, metric: Metric = "cosine") -> Search:
    """:func:`exact_search` through FAISS' exact flat indexes: the same neighbours and distances (to rounding)."""
    import faiss

    check_metric(metric, "faiss_search")
    a = np.ascontiguousarray(as_numpy(collection), dtype=np.float32)
    q = np.ascontiguousarray(as_numpy(queries), dtype=np.float32)
    k = min(int(k), len(a))
    if metric == "cosine":  # unit rows (as torch's normalize makes them): inner product = cosine similarity
        a, q = (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12) for v in (a, q))
    index = faiss.IndexFlatIP(a.shape[1]) if metric == "cosine" else faiss.IndexFlatL2(a.shape[1])
    index.add(a)
    score, idx = index.search(q, k)
    dist = 1 - score if metric == "cosine" else np.sqrt(np.maximum(score, 0))  # FAISS' L2 is squared
    return np.maximum(dist, 0).astype(np.float32), idx.astype(np.int64)


@register_evaluation("retrieval", aliases=("recall_at_k", "map_at_r"), reads="train+test", needs_labels=True,
                     defaults={"k": [1, 5, 10], "metric": "cosine"}, derived=("relevance",),
                     from_learner={"metric": "neighbour_metric"},
                     outputs={"recall_at_k": dict, "recall_at_1": float, "map_at_r": float})
def retrieval_scores(
    train_z: ArrayLike,
    train_y: ArrayLike,
    test_z: ArrayLike,
    test_y: ArrayLike,
    *,
    k: Sequence[int] = (1, 5, 10),
    metric: Metric = "cosine",
) -> dict[str, Any]:
    """Recall@k and MAP@R of test queries against the training collection, labels as relevance.

    Recall@k is the fraction of queries with at least one same-label item among their ``k`` nearest (the
    metric-learning recall of Song et al., 2016). MAP@R (Musgrave et al., "A Metric Learning Reality Check",
    2020) ranks the ``R`` nearest, ``R`` the number of same-label items in the collection, and averages
    ``(1/R) sum_i P(i) rel(i)`` over queries: it rewards putting all of a class first, not just one.
    Returns ``{"recall_at_k": {k: value}, "recall_at_1", "map_at_r", "settings"}``.
    """
    check_metric(metric, "retrieval.metric")
    check_arrays(train_z, train_y, "retrieval.train", kind="vector")
    check_arrays(test_z, test_y, "retrieval.test", kind="vector")
    ytr, yte = as_numpy(train_y).astype(np.int64), as_numpy(test_y).astype(np.int64)
    ks = [int(v) for v in k]
    if not ks or any(not 1 <= v <= len(ytr) for v in ks):
        raise ConfigError(f"value at retrieval.k: expected whole numbers in 1..{len(ytr)} (the training samples), "
                          f"got {list(k)!r}. Lower k or use more training samples.")
    classes, counts = np.unique(ytr, return_counts=True)
    r = np.zeros(len(yte), np.int64)
    known = np.isin(yte, classes)
    r[known] = counts[np.searchsorted(classes, yte[known])]
    depth = max(max(ks), int(r.max()) if len(r) else 1)
    xtr, xte = as_numpy(train_z), as_numpy(test_z)
    hits, ap = {kk: 0 for kk in ks}, []
    rows = max(1, BLOCK // depth // 8)  # the (rows, depth) rankings of a block stay near BLOCK bytes
    for start in range(0, len(yte), rows):
        _, idx = exact_search(xtr, xte[start:start + rows], depth, metric)
        relevant = ytr[idx] == yte[start:start + rows, None]  # (rows, depth)
        for kk in ks:
            hits[kk] += int(relevant[:, :kk].any(1).sum())
        ap.append(_average_precision_at_r(relevant, r[start:start + rows]))
    recall = {kk: hits[kk] / max(len(yte), 1) for kk in ks}
    map_r = float(np.concatenate(ap).mean()) if ap else 0.0
    return {"recall_at_k": recall, **({"recall_at_1": recall[1]} if 1 in recall else {}),
            "map_at_r": map_r, "settings": {"k": ks, "metric": metric, "relevance": "same label"}}


def _average_precision_at_r(relevant: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``(1/R) sum_{i<=R} P(i) rel(i)`` of each query ``(Q,)``; a query whose class is absent from the collection
    (R = 0) scores 0."""
    ranks = np.arange(1, relevant.shape[1] + 1)
    hits = relevant & (ranks[None, :] <= r[:, None])
    precision = np.cumsum(hits, axis=1) / ranks[None, :]
    return np.where(r > 0, (precision * hits).sum(1) / np.maximum(r, 1), 0.0)
