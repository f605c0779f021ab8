"""Query speed of exact nearest-neighbour search: deepfeat's against FAISS and scikit-learn, side by side.

A collection of random float32 vectors (1M x 128 in the full run) and a batch of queries; each search returns
the 10 nearest (Euclidean) of every query, exactly. Compared in the same process, one after the other:

- deepfeat: :func:`deepfeat.eval.retrieval.exact_search` (torch matrix products in blocks, top-k),
- FAISS ``IndexFlatL2`` (``pip install faiss-cpu``; skipped when absent), the index built before the timing,
- scikit-learn ``NearestNeighbors(algorithm="brute")``.

Every search must return the same neighbours as deepfeat's (checked; distances tie only on random data's
rounding, which this data does not hit). Reports queries per second and the ratio to deepfeat.

    python benchmarks/bench_retrieval.py            # 1M x 128, 1,000 queries: minutes on 2 cores; run on a quiet machine
    python benchmarks/bench_retrieval.py --quick    # 100k x 128, 200 queries, ~10 s

Writes benchmarks/results/retrieval[_quick].json. Threads: 1 by default (--threads), the same for all three.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k x 128, 200 queries")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for every library (default 1)")
    parser.add_argument("--repeats", type=int, default=3)
    a = parser.parse_args()
    n, q = (100_000, 200) if a.quick else (1_000_000, 1_000)
    torch.set_num_threads(a.threads)
    threadpool_limits(a.threads)  # scikit-learn's BLAS (and any other) held to the same threads
    rng = np.random.default_rng(0)
    base = rng.standard_normal((n, 128), dtype=np.float32)
    queries = rng.standard_normal((q, 128), dtype=np.float32)
    from sklearn.neighbors import NearestNeighbors

    brute = NearestNeighbors(n_neighbors=K, algorithm="brute", metric="euclidean").fit(base)
    searches: dict[str, Callable[[], Any]] = {"deepfeat exact (torch)": lambda: exact_search(base, queries, K, "euclidean"),
                                              "scikit-learn NearestNeighbors (brute)": lambda: brute.kneighbors(queries)}
    if installed("faiss"):
        import faiss

        faiss.omp_set_num_threads(a.threads)
        index = faiss.IndexFlatL2(base.shape[1])
        index.add(base)  # built once, outside the timing: this measures queries
        searches["FAISS IndexFlatL2"] = lambda: index.search(queries, K)
    rows, reference = [], None
    for name, fn in searches.items():
        seconds, idx = timed(fn, a.repeats)
        reference = idx if reference is None else reference
        rows.append({"search": name, "queries/s": q / seconds, "seconds": seconds,
                     "same neighbours": bool((idx == reference).all())})
    for row in rows:
        row["vs deepfeat"] = row["queries/s"] / rows[0]["queries/s"]
    print(f"{n:,} x 128 float32, {q:,} queries, k={K}, {a.threads} thread(s)")
    print(table(rows, ["search", "queries/s", "vs deepfeat", "seconds", "same neighbours"]))
    path = write_result("retrieval_quick" if a.quick else "retrieval",
                        {"collection": [n, 128], "queries": q, "k": K, "threads": a.threads, "rows": rows})
    print(f"written: {path}")


if __name__ == "__main__":
    main()
