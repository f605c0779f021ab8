"""Retrieval with a trained run: embed a collection once into an index in the run folder, then find any query's
nearest items in it.

    >>> build_index("runs/digits", "digits")               # runs/digits/index.npz: features, ids, labels
    >>> hits = neighbors("runs/digits", x, k=10)           # or run.neighbors(x, 10)
    >>> hits.ids[0], hits.distances[0]                     # the first query's 10 nearest, nearest first

The index is one ``.npz`` file (written atomically, under the run folder's lock): the collection's features
``(N, D)`` float32, its ids (file paths or row numbers, :mod:`deepfeat.run.new_data`), its labels where the data
gives them, and the metric. It holds the features, not a search structure, so any registered search
(:data:`~deepfeat.eval.retrieval.SEARCHES`: FAISS when installed, else the exact torch search) serves it with the
same neighbours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepfeat.atomic import atomic_write
from deepfeat.errors import ConfigError
from deepfeat.eval.retrieval import SEARCHES, Metric, check_metric
from deepfeat.extras import installed
from deepfeat.run.lock import run_lock
from deepfeat.run.new_data import new_samples
from deepfeat.run.runs import Run, load
from deepfeat.run.sample_table import SampleWriter, output_file

INDEX_FILE = "index.npz"
_LOCK_FIX = "Wait for it to end; one process at a time writes a run folder."


@dataclass
class Index:
    """A saved collection: ``features (N, D)``, ``ids (N,)``, ``labels (N,)`` or None, and its ``metric``."""

    features: np.ndarray
    ids: np.ndarray
    labels: np.ndarray | None
    metric: Metric


@dataclass
class Neighbors:
    """The ``k`` nearest items of each query, nearest first: ``ids``, ``distances`` and (when the index has
    them) ``labels``, each ``(Q, k)``; ``query_ids (Q,)`` name the queries (row numbers for an array)."""

    query_ids: list[str]
    ids: np.ndarray
    distances: np.ndarray
    labels: np.ndarray | None


def _run(run: Run | str | Path) -> Run:
    return run if isinstance(run, Run) else load(run)


def default_search() -> str:
    """FAISS when it is installed, else the exact search: they return the same neighbours, FAISS faster."""
    return "faiss" if installed("faiss") else "exact"


def build_index(run: Run | str | Path, data: Any, metric: Metric | None = None, batch_size: int = 1024) -> Path:
    """Embed every sample of ``data`` (an array, a file or folder, a dataset name or spec, as :func:`embed` takes)
    with the run's model and save it as the run's index; ``metric`` defaults to the learner's ``neighbour_metric``.
    Returns the index file."""
    r = _run(run)
    metric = metric or r.learner.neighbour_metric
    check_metric(metric, "index --metric")
    samples = new_samples(r, data)
    ids, zs, ys = [], [], []
    for batch_ids, x, y in samples.batches(batch_size):
        ids += batch_ids
        zs.append(r.embed(x, batch_size))
        ys.append(None if y is None else y.numpy())
    if not zs:
        raise ConfigError(f"data {data} for run {r.dir.name}: expected samples to index, got none.")
    labels = np.concatenate(ys).astype(np.int64) if all(y is not None for y in ys) else None
    meta = {"metric": metric, "data": str(data), "samples": len(ids)}
    arrays = {"features": np.concatenate(zs).astype(np.float32), "ids": np.asarray(ids, dtype=str),
              "meta": np.asarray(json.dumps(meta)), **({"labels": labels} if labels is not None else {})}
    path = r.dir / INDEX_FILE
    with run_lock(r.dir, _LOCK_FIX):
        atomic_write(path, lambda tmp: _save_npz(tmp, arrays))
    return path


def _save_npz(tmp: str, arrays: dict[str, np.ndarray]) -> None:
    with open(tmp, "wb") as f:  # a file object: np.savez would add ".npz" to a bare temporary name
        np.savez(f, **arrays)


def read_index(run: Run | str | Path) -> Index:
    """The run's saved index; ConfigError with the command that builds one when there is none."""
    r = _run(run)
    path = r.dir / INDEX_FILE
    if not path.is_file():
        raise ConfigError(f"index at {path}: expected an index of the collection to search, got none. Build one: "
                          f"`deepfeat index {r.dir} --data PATH` (or deepfeat.run.retrieval.build_index).")
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        labels = npz["labels"] if "labels" in npz.files else None
        return Index(npz["features"], npz["ids"], labels, meta["metric"])


def search(index: Index, z: np.ndarray, k: int, backend: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distances and positions ``(Q, k)`` in ``index`` of the ``k`` nearest to features ``z (Q, D)``."""
    if not isinstance(k, int) or k < 1:
        raise ConfigError(f"k at neighbors: expected a whole number >= 1, got {k!r}. Use for example --k 10.")
    return SEARCHES.get(backend or default_search(), "neighbors search")(index.features, z, k, index.metric)


def run_neighbors(run: Run, x: Any, k: int = 10, backend: str | None = None, batch_size: int = 1024) -> Neighbors:
    """The ``k`` nearest indexed items to each raw sample of ``x (Q, *input_shape)`` (``Run.neighbors``)."""
    index = read_index(run)
    dist, pos = search(index, run.embed(x, batch_size), k, backend)
    return Neighbors([str(i) for i in range(len(pos))], index.ids[pos], dist,
                     None if index.labels is None else index.labels[pos])


def neighbors(run: Run | str | Path, query: Any, k: int = 10, out: str | Path | None = None,
              backend: str | None = None, batch_size: int = 1024) -> Neighbors | Path:
    """The ``k`` nearest indexed items of every sample of ``query`` (an array, file, folder or dataset, as
    :func:`build_index` takes). Returns :class:`Neighbors`, or with ``out`` the ``.csv`` / ``.parquet`` written: one
    row per query, ``id`` then ``neighbor_i``, ``distance_i`` (and ``label_i``) for i = 1..k."""
    r = _run(run)
    index = read_index(r)
    samples = new_samples(r, query)
    parts = []
    for ids, x, _ in samples.batches(batch_size):
        dist, pos = search(index, r.embed(x, batch_size), k, backend)
        parts.append(Neighbors(ids, index.ids[pos], dist, None if index.labels is None else index.labels[pos]))
    found = _joined(parts, min(k, len(index.ids)), index.labels is not None)
    return found if out is None else write_neighbors(found, out)


def _joined(parts: list[Neighbors], k: int, labelled: bool) -> Neighbors:
    if not parts:
        return Neighbors([], np.zeros((0, k), str), np.zeros((0, k), np.float32), np.zeros((0, k), np.int64) if labelled else None)
    labels = np.concatenate([p.labels for p in parts]) if labelled else None  # type: ignore[misc]
    return Neighbors([i for p in parts for i in p.query_ids], np.concatenate([p.ids for p in parts]),
                     np.concatenate([p.distances for p in parts]), labels)


def write_neighbors(found: Neighbors, out: str | Path) -> Path:
    """``found`` as a ``.csv`` / ``.parquet`` table: one row per query, ``id`` then ``neighbor_i``, ``distance_i``
    (and ``label_i``, the indexed label index) for i = 1..k."""
    out = output_file(out, "neighbors", (".csv", ".parquet"))
    columns: dict[str, np.ndarray] = {}
    for i in range(found.ids.shape[1]):
        columns[f"neighbor_{i + 1}"] = found.ids[:, i]
        columns[f"distance_{i + 1}"] = found.distances[:, i]
        if found.labels is not None:
            columns[f"label_{i + 1}"] = found.labels[:, i]
    with SampleWriter(out, len(found.query_ids)) as writer:
        writer.write(found.query_ids, found.distances, columns)
    return out
