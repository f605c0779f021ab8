"""2-D projections of feature vectors (PCA, t-SNE, UMAP) for embedding maps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepfeat.errors import ConfigError, DataError
from deepfeat.extras import load
from deepfeat.registry import did_you_mean

METHODS = ("pca", "tsne", "umap")
TITLES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}


@dataclass
class Projection:
    """A 2-D projection of a (possibly subsampled) feature set.

    Attributes:
        points: ``(n, 2)`` projected coordinates.
        labels: ``(n,)`` class indices (int) or continuous targets (float), or ``None``.
        names: class names found in string labels, else ``None``.
        method, title: the method's key and display name.
        axis_labels: labels for the x and y axes.
        dim: the feature dimension ``D`` before projection.
        n_total: the number of points before subsampling.
        index: ``(n,)`` the rows of ``z`` that were kept (all of them unless subsampled).
    """

    points: np.ndarray
    labels: np.ndarray | None
    names: list[str] | None
    method: str
    title: str
    axis_labels: tuple[str, str]
    dim: int
    n_total: int
    index: np.ndarray | None = None


def project(
    z: np.ndarray, y: np.ndarray | None, method: str, *, max_points: int = 2000, seed: int = 0
) -> Projection:
    """Project features ``z`` ``(N, D)`` to 2-D with ``method``, on at most ``max_points`` points."""
    method = method.lower()
    if method not in METHODS:
        raise ConfigError(
            f"method at embedding_map: expected one of {list(METHODS)}, got {method!r}."
            + did_you_mean(method, METHODS)
        )
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 3 or z.shape[1] < 2:
        raise DataError(
            f"features at embedding_map: expected an (N, D) array with N >= 3 and D >= 2, got shape "
            f"{z.shape}. Pass one feature vector per row."
        )
    if not np.isfinite(z).all():
        raise DataError("features at embedding_map: expected finite values, got NaN or inf")
    labels, names = _labels(y, len(z))
    n_total = len(z)
    keep = np.arange(n_total)
    if n_total > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(n_total, size=max_points, replace=False))
        z = z[keep]
        labels = None if labels is None else labels[keep]
    points, axis_labels = _PROJECTORS[method](z, seed)
    return Projection(points, labels, names, method, TITLES[method], axis_labels, z.shape[1], n_total, keep)


def _labels(y: np.ndarray | None, n: int) -> tuple[np.ndarray | None, list[str] | None]:
    """Labels as int class indices, float targets or ``None``; string labels become indices."""
    if y is None:
        return None, None
    y = np.asarray(y).ravel()
    if len(y) != n:
        raise DataError(f"labels at embedding_map: expected {n} labels (one per row of z), got {len(y)}")
    if y.dtype.kind in "USO":
        names, codes = np.unique(y.astype(str), return_inverse=True)
        return codes, [str(s) for s in names]
    if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
        return y, None
    codes = y.astype(np.int64)
    if codes.min() < 0:
        raise DataError(f"labels at embedding_map: expected class indices >= 0, got {codes.min()}")
    return codes, None


def _pca(z: np.ndarray, seed: int) -> tuple[np.ndarray, tuple[str, str]]:
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=seed)
    points = pca.fit_transform(z)
    r1, r2 = pca.explained_variance_ratio_
    return points, (f"PC 1 ({r1:.0%} of variance)", f"PC 2 ({r2:.0%} of variance)")


def _tsne(z: np.ndarray, seed: int) -> tuple[np.ndarray, tuple[str, str]]:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    # The usual speed-up: t-SNE on the top 50 principal components loses little structure.
    if z.shape[1] > 50 and len(z) > 50:
        z = PCA(n_components=50, random_state=seed).fit_transform(z)
    perplexity = float(min(30.0, (len(z) - 1) / 3))
    tsne = TSNE(n_components=2, init="pca", learning_rate="auto", perplexity=perplexity, random_state=seed)
    # One OpenMP thread: at a few thousand points the Barnes-Hut gradient is too small to pay for
    # thread synchronisation, and on busy shared cores spinning threads made it 5-50x slower.
    with threadpool_limits(limits=1, user_api="openmp"):
        points = tsne.fit_transform(z)
    return points, ("t-SNE 1", "t-SNE 2")


def _umap(z: np.ndarray, seed: int) -> tuple[np.ndarray, tuple[str, str]]:
    umap = load("umap", "umap", "method 'umap' at embedding_map", ", or use method='tsne'")
    reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(z) - 1), random_state=seed)
    return np.asarray(reducer.fit_transform(z)), ("UMAP 1", "UMAP 2")


_PROJECTORS = {"pca": _pca, "tsne": _tsne, "umap": _umap}
