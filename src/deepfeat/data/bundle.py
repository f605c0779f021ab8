"""From arrays to a :class:`DataBundle`: checks, label encoding, seeded stratified splits, normalization.

Every dataset source ends here, so every dataset is split, encoded and normalized the same way.
Normalization statistics come from the training split only: computing them on all data would leak
the test distribution into training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
import torch

from deepfeat.data.classes import renumber, resolve_classes, split_classes
from deepfeat.data.checks import ArrayLike, as_array, as_numpy, check_arrays, check_labels, infer_kind
from deepfeat.data.info import DataInfo, Kind
from deepfeat.data.kinds import kind_named
from deepfeat.data.splits import DataBundle, TensorSplit
from deepfeat.data.tokenize import PAD_ID
from deepfeat.data.validation_policy import resolve_val_fraction
from deepfeat.errors import ConfigError, DataError


@dataclass(frozen=True)
class LoadOptions:
    """How every dataset source is split and normalized (the shared arguments of ``load_dataset``)."""

    seed: int = 0
    val_fraction: float | None = None  # None: auto, see deepfeat.data.validation_policy
    test_fraction: float = 0.2
    normalize: bool = True
    where: str = "data"
    normal_classes: tuple[int | str, ...] | None = None  # the one-class setup (formerly train_classes)
    classes: tuple[int | str, ...] | None = None  # a class subset for every split (deepfeat.data.classes)
    score_heldout: bool = True

    def kwargs(self) -> dict[str, Any]:
        """These options as :func:`make_bundle` keyword arguments."""
        return asdict(self)


def take_stratified(
    pool: np.ndarray, labels: np.ndarray | None, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``count`` indices from ``pool`` at random, keeping class proportions; (taken, rest), sorted.

    Per-class quotas use the largest-remainder rule, so exactly ``count`` indices are taken.
    """
    if labels is None:
        perm = rng.permutation(pool)
        return np.sort(perm[:count]), np.sort(perm[count:])
    classes, inverse = np.unique(labels[pool], return_inverse=True)
    sizes = np.bincount(inverse, minlength=len(classes))
    quota = sizes * (count / len(pool))
    take = np.floor(quota).astype(np.int64)
    by_remainder = np.argsort(-(quota - take), kind="stable")
    take[by_remainder[: count - int(take.sum())]] += 1
    chosen = [rng.permutation(pool[inverse == k])[: take[k]] for k in range(len(classes))]
    taken = np.sort(np.concatenate(chosen))
    return taken, np.setdiff1d(pool, taken, assume_unique=True)


def split_indices(
    n: int, labels: np.ndarray | None, fractions: Sequence[float], seed: int
) -> list[np.ndarray]:
    """Seeded split of ``range(n)`` into ``[rest, part_1, ...]`` with ``round(f * n)`` samples per part."""
    rng = np.random.default_rng(seed)
    rest = np.arange(n)
    parts = []
    for fraction in fractions:
        part, rest = take_stratified(rest, labels, int(round(fraction * n)), rng)
        parts.append(part)
    return [rest, *parts]


def subsample(labels: np.ndarray, limit: int | None, options: LoadOptions, names: Sequence[str]) -> np.ndarray | None:
    """Indices of a seeded, stratified subset of ``limit`` samples, or None to keep all.

    The limit counts the samples of the classes ``options.classes`` keeps (``names``: the class names ``labels``
    index), so ``limit: 10000`` with five classes trains on 10,000 samples of those five, not on their share of
    10,000 drawn from every class.
    """
    where = options.where
    if limit is None:
        return None
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ConfigError(
            f"limit at {where}.limit: expected a positive integer or null, got {limit!r}. "
            "Set limit to the number of samples to keep, or remove it."
        )
    pool = np.arange(len(labels))
    if options.classes is not None:
        pool = pool[np.isin(labels, resolve_classes(options.classes, names, f"{where}.classes"))]
    if limit >= len(pool):
        return None if len(pool) == len(labels) else pool
    taken, _ = take_stratified(pool, labels, limit, np.random.default_rng(options.seed))
    return taken


def _as_inputs(x: ArrayLike, kind: Kind, copy: bool = False) -> torch.Tensor:
    tensor = x.detach() if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    return tensor.to(kind_named(kind).dtype, copy=copy)


def _encode_labels(
    ys: list[np.ndarray], class_names: Sequence[str] | None, where: str
) -> tuple[list[np.ndarray], list[str]]:
    """Labels as int64 codes 0..K-1 and the K class names (the original values, as text)."""
    if class_names is not None:
        for i, y in enumerate(ys):
            check_labels(y, f"{where}.y" if i == 0 else f"{where}.y_test", len(class_names))
        return [y.astype(np.int64) for y in ys], [str(c) for c in class_names]
    values = np.unique(np.concatenate(ys))
    # Float labels are whole numbers here (checked), so 3.0 is named "3".
    names = [str(int(v)) if isinstance(v, np.floating) else str(v) for v in values]
    return [np.searchsorted(values, y).astype(np.int64) for y in ys], names


def encode_labels(*ys: ArrayLike) -> tuple[list[np.ndarray], list[str]]:
    """Any labels (text or numbers) as int64 codes 0..K-1 shared by all ``ys``, and the K class names.

    Names sort numerically when every label is a number ("2" before "10"), else alphabetically.
    """
    arrays = [as_numpy(y).astype(str) for y in ys]
    values, inverse = np.unique(np.concatenate(arrays), return_inverse=True)
    try:
        order = np.argsort([float(v) for v in values], kind="stable")
    except ValueError:
        order = np.arange(len(values))  # not all numbers: keep np.unique's alphabetical order
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.arange(len(values))
    codes = np.split(rank[inverse], np.cumsum([len(y) for y in arrays])[:-1])
    return codes, [str(v) for v in values[order]]


def check_fractions(val_fraction: float, test_fraction: float, where: str) -> None:
    """Raise :class:`ConfigError` unless both fractions are in [0, 1) and leave data to train on."""
    for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ConfigError(
                f"split fraction at {where}.{key}: expected a number in [0, 1), got {value!r}. "
                "Use for example 0.1."
            )
    if val_fraction + test_fraction >= 1:
        raise ConfigError(
            f"split fractions at {where}: expected val_fraction + test_fraction < 1, got "
            f"{val_fraction} + {test_fraction}. Leave some data for training."
        )


def make_bundle(
    x: ArrayLike,
    y: ArrayLike | None = None,
    kind: Kind | None = None,
    name: str = "",
    *,
    val_fraction: float | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    normalize: bool = True,
    class_names: Sequence[str] | None = None,
    x_test: ArrayLike | None = None,
    y_test: ArrayLike | None = None,
    where: str = "data",
    normal_classes: Sequence[int | str] | None = None,
    classes: Sequence[int | str] | None = None,
    score_heldout: bool = True,
    groups: dict[str, ArrayLike] | None = None,
    groups_test: dict[str, ArrayLike] | None = None,
) -> DataBundle:
    """Check, encode, split (stratified, seeded) and normalize ``x`` (N, ...) with labels ``y`` (N,).

    With ``x_test`` the source's own test split is kept and ``test_fraction`` is ignored. Labels
    become int64 codes 0..K-1; without ``class_names`` the sorted original values name the classes.
    Inputs become float32 (int64 for kind "tokens", which is never normalized). ``classes`` (names or
    indices) keeps only those classes in every split, renumbered 0..K-1 in the order given.
    ``normal_classes`` (names or indices) keeps only those classes in train and val
    while test keeps every class: the one-class / novelty-detection setup, with normalization
    statistics from the kept classes only; ``score_heldout`` moves the other classes' train and val
    samples into the test split (see :mod:`deepfeat.data.classes`). ``info.split_classes`` records
    which classes each split holds. ``groups`` / ``groups_test`` (``{name: one value per sample of x / x_test}``,
    e.g. each recording's speaker) follow their samples into every split as ``split.groups``.
    """
    # Tensors stay tensors (no copy off the GPU); anything else becomes an array with a .shape.
    x = as_array(x, f"{where}.x")
    kind = kind or infer_kind(x.ndim, f"{where}.x")
    has_test = x_test is not None
    val_fraction = resolve_val_fraction(val_fraction, len(x))
    check_fractions(val_fraction, 0.0 if has_test else test_fraction, where)
    check_arrays(x, y, where, kind=kind)
    if has_test:
        x_test = as_array(x_test, f"{where}.x_test")
        check_arrays(x_test, y_test, f"{where}.test", kind=kind)
        if (y is None) != (y_test is None):
            raise DataError(
                f"labels at {where}: expected labels for both train and test or for neither, got "
                f"them for {'test' if y is None else 'train'} only. Pass both y and y_test, or neither."
            )
        if tuple(x_test.shape[1:]) != tuple(x.shape[1:]):
            raise DataError(
                f"test input shape at {where}.x_test: expected samples of shape "
                f"{tuple(x.shape[1:])} like x, got {tuple(x_test.shape[1:])}. "
                "Resize or pad the test data to the training shape."
            )
    meta = _check_groups(groups, groups_test, len(x), len(x_test) if has_test else 0, where)
    labels: list[np.ndarray] = []
    names: list[str] = []
    if y is not None:
        labels, names = _encode_labels(
            [as_numpy(y)] + ([as_numpy(y_test)] if has_test else []), class_names, where
        )
    n = len(x)
    fractions = [val_fraction] if has_test else [val_fraction, test_fraction]
    parts = split_indices(n, labels[0] if labels else None, fractions, seed)
    heldout = None
    if classes is not None:
        kept = resolve_classes(classes, names, f"{where}.classes")
        parts = [idx[np.isin(labels[0][idx], kept)] for idx in parts]
        labels = [renumber(y, kept, len(names)) for y in labels]
        names = [names[c] for c in kept]
        if has_test:
            mask = labels[1] >= 0
            x_test = x_test[torch.from_numpy(mask)] if isinstance(x_test, torch.Tensor) else x_test[mask]
            labels[1] = labels[1][mask]
            meta = None if meta is None else (meta[0], {k: v[mask] for k, v in meta[1].items()})
    if normal_classes is not None:
        normal = resolve_classes(normal_classes, names, f"{where}.normal_classes") if labels else []
        before = parts[:2]
        parts[:2] = keep_classes(parts[:2], labels[0] if labels else None, normal, len(names), where)
        if score_heldout:
            heldout = np.sort(np.concatenate([np.setdiff1d(a, b) for a, b in zip(before, parts[:2])]))
            if not has_test:
                parts[-1], heldout = np.sort(np.concatenate([parts[-1], heldout])), None
    if len(parts[0]) == 0:
        raise DataError(
            f"training split at {where}: expected at least one training sample, got 0 of {n}. "
            "Lower val_fraction/test_fraction or add data."
        )
    info = DataInfo(kind, tuple(x.shape[1:]), len(names), names, name=name)
    return _assemble(x, x_test, labels, parts, info, normalize, heldout, meta)


def _check_groups(groups: dict[str, ArrayLike] | None, groups_test: dict[str, ArrayLike] | None, n: int, n_test: int,
                  where: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """Per-sample metadata as arrays, one value per sample of ``x`` (``n``) and of ``x_test`` (``n_test``)."""
    if not groups:
        return None
    train = {k: np.asarray(v) for k, v in groups.items()}
    test = {k: np.asarray(v) for k, v in (groups_test or {}).items()}
    for key, values, count in [*((k, v, n) for k, v in train.items()), *((k, v, n_test) for k, v in test.items())]:
        if values.ndim != 1 or len(values) != count:
            raise DataError(f"groups at {where}.groups.{key}: expected one value per sample ({count}), got shape "
                            f"{values.shape}.")
    if n_test and set(test) != set(train):
        raise DataError(f"groups at {where}: expected the same metadata for test as for training, got "
                        f"{sorted(test)} and {sorted(train)}.")
    return train, test


def keep_classes(parts: list[np.ndarray], labels: np.ndarray | None, classes: Sequence[int], num_classes: int,
                 where: str) -> list[np.ndarray]:
    """``parts`` (index arrays) restricted to samples whose label is one of ``classes``."""
    if labels is None or not classes or any(not 0 <= int(c) < num_classes for c in classes):
        raise ConfigError(
            f"normal classes at {where}.normal_classes: expected a non-empty list of class names or indices in "
            f"0..{num_classes - 1} of a labelled dataset, got {list(classes)!r}"
            f"{'' if labels is not None else ' for unlabelled data'}. Name the normal classes, e.g. normal_classes: [0]."
        )
    return [idx[np.isin(labels[idx], np.asarray(classes))] for idx in parts]


def _assemble(
    x: ArrayLike,
    x_test: ArrayLike | None,
    labels: list[np.ndarray],
    parts: list[np.ndarray],
    info: DataInfo,
    normalize: bool,
    heldout: np.ndarray | None = None,
    meta: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None = None,
) -> DataBundle:
    """Index the split ``parts`` out of ``x``, add ``x_test`` (with the ``heldout`` rows of ``x``), and
    normalize with train statistics; the per-sample metadata ``meta`` (train, test) follows its samples."""
    xt = _as_inputs(x, info.kind)
    y_all = torch.from_numpy(labels[0]) if labels else None
    groups, groups_test = meta or ({}, {})
    splits = []
    for idx in parts:
        index = torch.from_numpy(idx)
        splits.append(TensorSplit(xt[index], None if y_all is None else y_all[index],
                                  {k: v[idx] for k, v in groups.items()}))
    if x_test is not None:
        # A copy, because the splits are normalized in place and x_test may be the caller's tensor.
        test_x = _as_inputs(x_test, info.kind, copy=True)
        test_y = torch.from_numpy(labels[1]) if labels else None
        if heldout is not None and len(heldout):
            rows = torch.from_numpy(heldout)
            test_x = torch.cat([test_x, xt[rows]])
            test_y = None if y_all is None else torch.cat([test_y, y_all[rows]])
            groups_test = {k: np.concatenate([v, groups[k][heldout]]) for k, v in groups_test.items()}
        splits.append(TensorSplit(test_x, test_y, groups_test))
    kind = info.kind_spec
    if normalize and kind.stats is not None:
        info.mean, info.std = kind.statistics(splits[0].x)
        for split in splits:
            # In place: a second copy of a 60k-image dataset costs ~200 MB and most of the load time.
            kind.normalize(split.x, info.mean, info.std, inplace=True)
    if kind.padded:  # right-padded ids: a text's length is its non-padding ids (bucketing groups by it)
        for split in splits:
            split.lengths = (split.x != PAD_ID).sum(dim=1)
    train, val, test = splits
    if labels:
        info.split_classes = split_classes({n: s.y.numpy() for n, s in zip(("train", "val", "test"), splits)},
                                           info.class_names)
    return DataBundle(info, train, val if len(val) else None, test if len(test) else None)


def from_arrays(
    x: ArrayLike,
    y: ArrayLike | None = None,
    kind: Kind | None = None,
    *,
    x_test: ArrayLike | None = None,
    y_test: ArrayLike | None = None,
    class_names: Sequence[str] | None = None,
    name: str = "arrays",
    seed: int = 0,
    val_fraction: float | None = None,
    test_fraction: float = 0.2,
    normalize: bool = True,
) -> DataBundle:
    """A :class:`DataBundle` from in-memory arrays ``x`` (N, ...) and labels ``y`` (N,) (Python API)."""
    return make_bundle(
        x, y, kind, name, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
        normalize=normalize, class_names=class_names, x_test=x_test, y_test=y_test,
    )
