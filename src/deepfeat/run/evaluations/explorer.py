"""The interactive feature explorer of every run (``plots/explorer.html``, linked from the report).

Its points are the evaluation split's samples, then training samples where their features are computed anyway
(a protocol trains on them), at most :data:`MAX_POINTS` in all; the
2-D map is computed once, here, and stored in the page: UMAP when installed, else t-SNE (when the config draws
t-SNE maps) or PCA. Colourings: label, split, and what the learner's
capabilities give per sample where the run computes it anyway (:data:`COLOUR_BY`: a classifier's prediction, an
anomaly scorer's score), plus a k-means clustering of the features. The page draws itself (no plotting library).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from deepfeat.eval.retrieval import exact_search
from deepfeat.extras import installed
from deepfeat.layout import PLOTS_DIR
from deepfeat.reports.embedding import TITLES, project
from deepfeat.reports.explorer import NEIGHBOURS, Colouring, ExplorerData, write_explorer
from deepfeat.reports.figures import add_index_entry
from deepfeat.reports.previews import BUDGET, medium, previews
from deepfeat.run.new_data import sample_ids
from deepfeat.run.registries import RunContext, figure

log = logging.getLogger("deepfeat")

MAX_POINTS = 10_000
TSNE_POINTS = 5_000  # above this, without UMAP, the map is PCA's: t-SNE would take minutes on a laptop
FILE = "explorer.html"
MISSING = "(not computed)"
# Per-sample outputs a learner's capability gives, as colourings: capability -> (name, output, categorical).
COLOUR_BY: dict[str, tuple[str, str, bool]] = {"classifies": ("prediction", "predict_proba", True),
                                               "scores": ("anomaly score", "score_samples", False)}


def _roles(ctx: RunContext) -> list[tuple[str, str, Any]]:
    """``(role, split name, split)`` of the splits shown: the evaluation split, then the training split when its
    features are computed anyway (a protocol trains on them): the explorer never costs a pass of its own."""
    name, split = ctx.eval_split()
    train = name != "train" and "embed" in ctx.outputs.wanted.get("train", set())
    return [("eval", name, split)] + ([("train", "train", ctx.data.train)] if train else [])


def _raw(ctx: RunContext, split: Any, n: int) -> np.ndarray:
    """The first ``n`` samples of ``split`` in data space (the normalization undone)."""
    parts, got = [], 0
    for x, _ in split.batches(1024):
        parts.append(ctx.data.info.denormalize(x[: n - got]).numpy())
        got += len(parts[-1])
        if got >= n:
            break
    return np.concatenate(parts)


def _points(ctx: RunContext) -> tuple[np.ndarray, dict[str, list[Any]], set[str], list[str], list[str]]:
    """Features ``(N, D)``, per-point columns (label, split, capability outputs), the categorical ones, ids and
    previews. A capability's output is read where it is computed anyway; elsewhere it is missing (``None``)."""
    zs, ids, shown, columns = [], [], [], {"label": [], "split": []}
    categorical = {"split", "label"} | {column for column, _, is_cat in COLOUR_BY.values() if is_cat}
    roots = [Path(str(ctx.config.data[k])) for k in ("root", "test_root") if ctx.config.data.get(k)]
    names = ctx.data.info.class_names
    budget = BUDGET.get(medium(ctx.data.info), MAX_POINTS)
    for role, name, split in _roles(ctx):
        z, y = ctx.outputs.get(role, "embed")
        n = min(len(z), MAX_POINTS - sum(len(p) for p in zs))
        if n <= 0:
            break
        zs.append(z[:n])
        ids += [f"{name}:{i}" for i in sample_ids(split, roots)[:n]]
        columns["split"] += [name] * n
        columns["label"] += [_class(v, names) for v in y[:n]] if y is not None else [None] * n
        wanted = ctx.outputs.wanted.get(name, set())
        for capability, (column, output, is_cat) in COLOUR_BY.items():
            if ctx.learner.can(capability):
                values = ctx.outputs.get(role, output)[0][:n] if output in wanted else None
                columns.setdefault(column, []).extend(
                    [None] * n if values is None else [_class(v, names) for v in values.argmax(1)] if is_cat
                    else values.tolist())
        shown += previews(_raw(ctx, split, min(n, budget)), ctx.data.info) + [""] * (n - min(n, budget))
    return np.concatenate(zs), columns, categorical, ids, shown


def _class(index: Any, names: list[str]) -> str:
    return names[int(index)] if names else str(int(index))


def _colourings(z: np.ndarray, columns: dict[str, list[Any]], categorical: set[str], seed: int) -> dict[str, Colouring]:
    from sklearn.cluster import KMeans  # imported here: scikit-learn takes ~1 s to import

    out = {}
    split = columns.pop("split")
    for name, values in {**columns, "split": split}.items():  # the label first, the split last
        if name in categorical and any(v is not None for v in values):
            values = [MISSING if v is None else v for v in values]  # e.g. training points a classifier did not predict
        if any(v is None for v in values) or len(set(map(str, values))) < 2:
            continue  # unlabelled data, scores of some points only, or a single split: nothing to tell apart
        out[name] = Colouring([str(v) for v in values], sorted(set(map(str, values)))) if name in categorical \
            else Colouring(values)
    k = min(max(len(set(columns["label"]) - {None}), 2), 20, len(z))
    clusters = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(z)
    out["cluster"] = Colouring([f"cluster {c}" for c in clusters], [f"cluster {c}" for c in range(k)])
    return out


def _method(ctx: RunContext, n: int) -> str:
    """UMAP when installed; else t-SNE where the config draws t-SNE maps and the points are few; else PCA."""
    if installed("umap"):
        return "umap"
    return "tsne" if "tsne" in ctx.config.evaluation.embedding_plots and n <= TSNE_POINTS else "pca"


@figure("explorer", every_run=True, needs=(("eval", "embed"),),
        applies=lambda ctx: ctx.run_dir is not None,
        description="Interactive feature explorer: a 2-D map with previews, neighbours and an id search.")
def explorer(ctx: RunContext) -> list[Path]:
    """Write ``plots/explorer.html`` and index it, so the report links to it."""
    assert ctx.run_dir is not None  # applies only then
    z, columns, categorical, ids, shown = _points(ctx)
    if len(z) < 3:
        return []
    method = _method(ctx, len(z))
    coords = project(z, None, method, max_points=len(z), seed=ctx.config.seed).points
    metric = ctx.learner.neighbour_metric
    k = min(NEIGHBOURS, len(z) - 1)
    dist, idx = exact_search(z, z, k + 1, metric)
    keep = idx != np.arange(len(z))[:, None]
    keep[keep.all(1), -1] = False  # a point not found among its own nearest (duplicates): drop the farthest
    neighbours, distances = idx[keep].reshape(len(z), k), dist[keep].reshape(len(z), k)
    data = ExplorerData(coords, ids, shown, neighbours, distances, _colourings(z, columns, categorical, ctx.config.seed),
                        title=f"{ctx.run_dir.resolve().name}: feature explorer", method=TITLES[method], metric=metric)
    path = write_explorer(ctx.run_dir / PLOTS_DIR / FILE, data)
    add_index_entry(ctx.run_dir, {"name": "explorer", "file": FILE, "title": "Feature explorer", "section": "Features",
                                  "caption": f"{len(z):,} points on a {TITLES[method]} map: hover for a preview, click "
                                             "for nearest neighbours, search by id, list points unlike their neighbours."})
    log.debug("feature explorer written to %s", path)
    return [path]
