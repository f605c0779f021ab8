"""Query speed of exact nearest-neighbour search: deepfeat's against FAISS and scikit-learn, side by side.

A collection of random float32 vectors (1M x 128 in the full run) and a batch of queries; each search returns
the 10 nearest of every query, exactly, by Euclidean distance and by cosine distance (the learners' default
metric). Compared in the same process, one after the other, on the same queries:

- deepfeat: :func:`deepfeat.eval.retrieval.exact_search` (torch matrix products in blocks, top-k),
- FAISS ``IndexFlatL2`` / ``IndexFlatIP`` over unit rows (``pip install faiss-cpu``; skipped when absent), the
  index built before the timing,
- scikit-learn ``NearestNeighbors(algorithm="brute")`` (``metric="euclidean"`` / ``"cosine"``).

Every search is checked against deepfeat's neighbours: ``agreement`` is the mean share of a query's 10 that both
return (1.0 = the same sets; float32 rounding can swap near-ties). Reports queries per second and the ratio to
deepfeat.

    python benchmarks/bench_retrieval.py            # 1M x 128, 1,000 queries: ~15 minutes at 1 thread on 2 cores
    python benchmarks/bench_retrieval.py --quick    # 100k x 128, 200 queries, ~30 s

Writes benchmarks/results/retrieval[_quick].json. Threads: 1 by default (--threads), the same for all three.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, Callable

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from _common import table, write_result

from deepfeat.eval.retrieval import exact_search
from deepfeat.extras import installed

K = 10


def timed(fn: Callable[[], tuple[np.ndarray, np.ndarray]], repeats: int) -> tuple[float, np.ndarray]:
    """Best wall time of ``repeats`` calls (the least disturbed by other load) and the indices returned."""
    best, idx = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        _, idx = fn()
        best = min(best, time.perf_counter() - start)
    return best, idx


def agreement(idx: np.ndarray, reference: np.ndarray) -> float:
    """Mean share of each query's neighbours ``(Q, k)`` that ``reference`` also returns (order ignored)."""
    return float(np.mean([len(np.intersect1d(a, b)) / len(b) for a, b in zip(idx, reference)]))


def searches(base: np.ndarray, queries: np.ndarray, metric: str, threads: int) -> dict[str, Callable[[], Any]]:
    """The searches compared for ``metric``, deepfeat's first; indexes built here, outside the timing."""
    from sklearn.neighbors import NearestNeighbors

    brute = NearestNeighbors(n_neighbors=K, algorithm="brute", metric=metric).fit(base)
    out: dict[str, Callable[[], Any]] = {"deepfeat exact (torch)": lambda: exact_search(base, queries, K, metric),
                                         "scikit-learn NearestNeighbors (brute)": lambda: brute.kneighbors(queries)}
    if installed("faiss"):
        import faiss

        faiss.omp_set_num_threads(threads)
        if metric == "euclidean":
            index = faiss.IndexFlatL2(base.shape[1])
            index.add(base)
            out["FAISS IndexFlatL2"] = lambda: index.search(queries, K)
        else:  # cosine = inner product of unit rows; the queries' normalization is part of the timed search
            unit = faiss.IndexFlatIP(base.shape[1])
            unit.add(base / np.linalg.norm(base, axis=1, keepdims=True))
            out["FAISS IndexFlatIP (unit rows)"] = lambda: unit.search(
                queries / np.linalg.norm(queries, axis=1, keepdims=True), K)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k x 128, 200 queries")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for every library (default 1)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--metrics", nargs="+", default=["euclidean", "cosine"], choices=["euclidean", "cosine"])
    a = parser.parse_args()
    n, q = (100_000, 200) if a.quick else (1_000_000, 1_000)
    torch.set_num_threads(a.threads)
    threadpool_limits(a.threads)  # scikit-learn's BLAS (and any other) held to the same threads
    rng = np.random.default_rng(0)
    base = rng.standard_normal((n, 128), dtype=np.float32)
    queries = rng.standard_normal((q, 128), dtype=np.float32)
    rows = []
    for metric in a.metrics:
        reference, first = None, len(rows)
        for name, fn in searches(base, queries, metric, a.threads).items():
            seconds, idx = timed(fn, a.repeats)
            reference = idx if reference is None else reference
            rows.append({"metric": metric, "search": name, "queries/s": q / seconds, "seconds": seconds,
                         "agreement": agreement(idx, reference)})
            print(rows[-1], flush=True)
        for row in rows[first:]:
            row["vs deepfeat"] = row["queries/s"] / rows[first]["queries/s"]
    load = os.getloadavg()
    print(f"{n:,} x 128 float32, {q:,} queries, k={K}, {a.threads} thread(s), best of {a.repeats}, "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) at the end")
    print(table(rows, ["metric", "search", "queries/s", "vs deepfeat", "seconds", "agreement"]))
    path = write_result("retrieval_quick" if a.quick else "retrieval",
                        {"collection": [n, 128], "queries": q, "k": K, "threads": a.threads, "repeats": a.repeats,
                         "load_average_at_end": [round(v, 2) for v in load], "rows": rows})
    print(f"written: {path}")


if __name__ == "__main__":
    main()
