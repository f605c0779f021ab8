"""Samples passed in Python (numpy arrays, tensors, or a torch ``Dataset``) as a dataset, with the checks,
splits and normalization of every registered source.

A map-style ``torch.utils.data.Dataset`` returning ``x`` or ``(x, y)`` (integer labels 0..K-1) is streamed
batch by batch, never copied into memory: it is split by index (seeded; stratified when its labels are
known), and normalized per sample with statistics of at most ``STATS_SAMPLES`` training samples. Its
labels are read from a ``targets`` attribute (torchvision's convention) or, without one, in one pass.

``deepfeat.fit(config, data=(X, y), test=(X_test, y_test))`` records ``data: {name: in_memory}`` in the
run's config; a later ``resume`` or ``evaluate`` of that run takes the same arrays again (they are not
copied into the run folder).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from deepfeat.data.bundle import LoadOptions, check_fractions, make_bundle, split_indices
from deepfeat.data.checks import infer_kind
from deepfeat.data.datasets import always_available, register_dataset
from deepfeat.data.info import DataInfo, Kind
from deepfeat.data.splits import DataBundle, StreamSplit
from deepfeat.data.validation_policy import resolve_val_fraction
from deepfeat.errors import DataError


@register_dataset("in_memory", available=always_available("arrays passed in Python: deepfeat.fit(config, data=(X, y))"))
def in_memory(x: Any = None, y: Any = None, x_test: Any = None, y_test: Any = None, kind: Kind | None = None,
              class_names: Sequence[str] | None = None, *, options: LoadOptions = LoadOptions()) -> DataBundle:
    """Arrays or tensors ``x`` (N, ...) and labels ``y`` (N,) given in Python; ``x_test`` keeps its own test split."""
    if isinstance(x, Dataset) and not isinstance(x, torch.Tensor):
        return _dataset_bundle(x, x_test, kind, class_names, options)
    if x is None:
        raise DataError(f"data 'in_memory' at {options.where}: expected samples passed in Python, got none. This run "
                        "was trained on arrays given to deepfeat.fit(config, data=(X, y)): pass them again, e.g. "
                        "deepfeat.resume(run, data=(X, y)) or deepfeat.evaluate(run, data=(X, y)).")
    return make_bundle(x, y, kind, "in_memory", class_names=class_names, x_test=x_test, y_test=y_test, **options.kwargs())


def memory_spec(data: Any, test: Any = None) -> dict[str, Any]:
    """The ``in_memory`` dataset's arguments from ``data`` (``X`` or ``(X, y)``) and an optional ``test`` likewise."""
    spec: dict[str, Any] = dict(zip(("x", "y"), _pair(data, "data")))
    if test is not None:
        spec.update(zip(("x_test", "y_test"), _pair(test, "test")))
    return spec


def _pair(value: Any, where: str) -> tuple[Any, Any]:
    if isinstance(value, tuple):
        if len(value) != 2:
            raise DataError(f"{where}: expected X or a pair (X, y) of arrays, got a tuple of {len(value)} items")
        return value
    return value, None


STATS_SAMPLES = 512


class _Samples(Dataset):
    """A dataset's samples, each checked to have ``shape`` (a ragged sample would otherwise fail later, in
    ``torch.stack``, without saying which one), and normalized with ``info``'s statistics once it is set."""

    def __init__(self, dataset: Dataset, shape: tuple[int, ...], where: str) -> None:
        self.dataset, self.shape, self.where = dataset, shape, where
        self.info: DataInfo | None = None

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> Any:
        item = self.dataset[i]
        x, y = item if isinstance(item, (tuple, list)) else (item, None)
        if tuple(np.shape(x)) != self.shape:
            raise DataError(f"sample {i} of the dataset at {self.where}: expected shape {self.shape} like sample 0, "
                            f"got {tuple(np.shape(x))}. Return samples of one shape from __getitem__ (pad, crop or "
                            "resize them).")
        if self.info is None:
            return item
        x = self.info.normalize(_sample(item)[0].unsqueeze(0)).squeeze(0)
        return x if y is None else (x, y)


def _sample(item: Any) -> tuple[torch.Tensor, Any]:
    """``(x as a float tensor, y or None)`` of one dataset item (``x`` or ``(x, y)``)."""
    x, y = item if isinstance(item, (tuple, list)) else (item, None)
    return torch.as_tensor(x, dtype=torch.float32), y


def _labels(dataset: Dataset) -> np.ndarray:
    targets = getattr(dataset, "targets", None)  # torchvision's datasets keep their labels there
    if targets is not None:
        return np.asarray(targets, dtype=np.int64)
    return np.array([int(_sample(dataset[i])[1]) for i in range(len(dataset))], dtype=np.int64)  # type: ignore[arg-type]


def _dataset_bundle(dataset: Dataset, test: Any, kind: Kind | None, class_names: Sequence[str] | None,
                    options: LoadOptions) -> DataBundle:
    """A streamed :class:`DataBundle` over a map-style dataset: split by index, normalized per sample."""
    where, n = options.where, len(dataset)  # type: ignore[arg-type]
    if n < 2:
        raise DataError(f"dataset at {where}: expected at least 2 samples, got {n}")
    x0, y0 = _sample(dataset[0])
    kind = kind or infer_kind(x0.dim() + 1, f"{where}.x")
    labels = _labels(dataset) if y0 is not None else None
    if labels is not None and labels.min() < 0:
        raise DataError(f"labels of the dataset at {where}: expected integers 0..K-1, got {int(labels.min())}")
    val = resolve_val_fraction(options.val_fraction, n)
    check_fractions(val, 0.0 if test is not None else options.test_fraction, where)
    fractions = [val] if test is not None else [val, options.test_fraction]
    checked = [_Samples(dataset, tuple(x0.shape), where)] + ([_Samples(test, tuple(x0.shape), f"{where}.test")]
                                                             if test is not None else [])
    parts: list[Dataset] = [Subset(checked[0], idx.tolist()) for idx in split_indices(n, labels, fractions, options.seed)]
    parts += checked[1:]
    num_classes = int(labels.max()) + 1 if labels is not None else 0
    names = list(class_names) if class_names is not None else [str(c) for c in range(num_classes)]
    info = DataInfo(kind, tuple(x0.shape), num_classes, names, name=f"dataset:{type(dataset).__name__}")
    if options.normalize and info.kind_spec.stats is not None:
        picks = np.random.default_rng(options.seed).permutation(len(parts[0]))[:STATS_SAMPLES]  # type: ignore[arg-type]
        info.mean, info.std = info.kind_spec.statistics(torch.stack([_sample(parts[0][int(i)])[0] for i in picks]))
        for samples in checked:
            samples.info = info
    train, *rest = [StreamSplit(part) if len(part) else None for part in parts]  # type: ignore[arg-type]
    return DataBundle(info, train, *rest)
