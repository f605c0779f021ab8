"""Splits of a dataset and how batches are drawn from them.

``TensorSplit`` holds a whole split in memory and batches it by slicing tensors: on small models a
per-sample ``DataLoader`` (one ``__getitem__`` and one collate per sample) costs about as much as
the model itself. ``StreamSplit`` wraps a map-style ``Dataset`` for data too big for memory (image
folders) and answers the same ``batches`` call through a ``DataLoader``.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError, DeepfeatError

Batch = tuple[torch.Tensor, Union[torch.Tensor, None]]


def _count_batches(n: int, batch_size: int, drop_last: bool) -> int:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(
            f"batch_size at batches(): expected a positive integer, got {batch_size!r}. "
            "Set batch_size to 1 or more."
        )
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def epoch_order(n: int, shuffle: bool, generator: torch.Generator | None, rank: int = 0,
                world_size: int = 1, pad: bool = True) -> torch.Tensor | None:
    """Sample indices of one epoch for one process (``None``: all of them in order, unsharded).

    With several processes every rank draws the same permutation and takes every
    ``world_size``-th index from ``rank`` on, as ``DistributedSampler`` does; ``pad`` repeats the
    first indices so every rank gets the same count (training needs equal step counts).
    """
    if world_size == 1:
        return torch.randperm(n, generator=generator) if shuffle else None
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    if pad and n % world_size:
        order = torch.cat([order, order[: world_size - n % world_size]])
    return order[rank::world_size]


class _Sized:
    """What both split kinds share: the batch count of one epoch, from their ``len()``, and how many worker
    processes load their batches (0: the training process does)."""

    num_workers: int = 0

    def num_batches(self, batch_size: int, drop_last: bool = False, world_size: int = 1) -> int:
        """How many batches one epoch of :meth:`batches` yields (per process)."""
        return _count_batches(math.ceil(len(self) / world_size), batch_size, drop_last)


def bucketed_order(order: torch.Tensor, lengths: torch.Tensor, batch_size: int, buckets: int,
                   generator: torch.Generator | None) -> torch.Tensor:
    """``order`` regrouped so each batch holds samples of similar length (length-bucketed batching, as
    fairseq's and AllenNLP's bucket samplers): the shuffled order is cut into chunks of ``buckets``
    batches, each chunk sorted by length, and the chunks' batches shuffled again, so an epoch still
    sees every sample once, in a random order of batches, while a batch's longest sample (what padded
    compute costs) is close to its others. Deterministic given ``generator``'s state."""
    chunk = buckets * batch_size
    parts = [order[i:i + chunk] for i in range(0, len(order), chunk)]
    parts = [p[torch.argsort(lengths[p], descending=True, stable=True)] for p in parts]
    grouped = [b for p in parts for b in p.split(batch_size)]
    full = [b for b in grouped if len(b) == batch_size]
    tail = [b for b in grouped if len(b) != batch_size]  # short batches stay last (drop_last drops them)
    shuffled = [full[i] for i in torch.randperm(len(full), generator=generator).tolist()]
    return torch.cat(shuffled + tail) if grouped else order


class TensorSplit(_Sized):
    """An in-memory split: inputs ``x`` (N, ...), optional labels ``y`` (N,) int64, per-sample ``groups`` and
    ``lengths``.

    ``groups`` maps a metadata name to one value per sample (``{"speaker": array of N names}``): facts about
    the samples that are not the label, which plots can colour by (see :func:`deepfeat.data.bundle.make_bundle`).
    ``lengths`` (N,): each sample's real length (token data: its non-padding ids), which length-bucketed
    batching (``batches(buckets=...)``) groups by.
    """

    lengths: torch.Tensor | None = None

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None = None,
                 groups: dict[str, np.ndarray] | None = None, lengths: torch.Tensor | None = None) -> None:
        if y is not None and len(y) != len(x):
            raise ConfigError(
                f"split at data: expected as many labels as samples ({len(x)}), got {len(y)}. "
                "Pass x and y of the same length."
            )
        for name, values in (groups or {}).items():
            if len(values) != len(x):
                raise ConfigError(f"split at data: expected one '{name}' value per sample ({len(x)}), got {len(values)}.")
        self.x = x
        self.y = y
        self.groups = dict(groups) if groups else None
        self.lengths = lengths

    def __len__(self) -> int:
        return len(self.x)

    def __repr__(self) -> str:
        labels = "unlabelled" if self.y is None else "labelled"
        return f"TensorSplit(n={len(self)}, shape={tuple(self.x.shape[1:])}, {labels})"

    def batches(
        self,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        pad: bool = True,
        buckets: int = 0,
        skip: int = 0,
    ) -> Iterator[Batch]:
        """One epoch of ``(x (B, ...), y (B,) or None)`` batches; each sample appears exactly once; the first
        ``skip`` batches are left out (a resume mid-epoch).

        With ``shuffle`` the order is ``torch.randperm(N, generator=generator)``, so the same
        generator state gives the same order. Without it, batches are views (no copy). With
        ``world_size > 1`` this process gets its shard of the epoch (see :func:`epoch_order`).
        ``buckets > 0`` with ``shuffle`` and known ``lengths``: length-bucketed batches
        (:func:`bucketed_order`, chunks of ``buckets`` batches).
        """
        order = epoch_order(len(self), shuffle, generator, rank, world_size, pad)
        if buckets > 0 and order is not None and shuffle and self.lengths is not None:
            order = bucketed_order(order, self.lengths, batch_size, buckets, generator)
        n = len(self) if order is None else len(order)
        for step in range(skip, _count_batches(n, batch_size, drop_last)):
            start, stop = step * batch_size, min((step + 1) * batch_size, n)
            if order is None:
                yield self.x[start:stop], None if self.y is None else self.y[start:stop]
            else:
                idx = order[start:stop].to(self.x.device)
                yield self.x.index_select(0, idx), None if self.y is None else self.y.index_select(0, idx)

    def take(self, rows: torch.Tensor) -> "TensorSplit":
        """The samples at ``rows`` (an index tensor), with their labels, groups and lengths."""
        return TensorSplit(self.x[rows], None if self.y is None else self.y[rows],
                           {k: v[rows.numpy()] for k, v in self.groups.items()} if self.groups else None,
                           None if self.lengths is None else self.lengths[rows])

    def to(self, device: torch.device | str) -> "TensorSplit":
        """The split on ``device``; moving a small dataset to the GPU once saves a copy per batch."""
        return TensorSplit(self.x.to(device), None if self.y is None else self.y.to(device), self.groups, self.lengths)


def _collate(items: list[Any]) -> Batch:
    """Stack ``(x, y)`` samples, or ``x`` / ``(x,)`` samples of an unlabelled dataset."""
    first = items[0]
    if not isinstance(first, (tuple, list)):
        return torch.stack(items), None
    xs = torch.stack([item[0] for item in items])
    if len(first) == 1:
        return xs, None
    return xs, torch.as_tensor([int(item[1]) for item in items], dtype=torch.int64)


Order = Callable[..., Union[torch.Tensor, None]]  # (n, shuffle, generator, rank, world_size, pad) -> positions


class _Positions(Sampler[int]):
    """The positions of the current epoch: a DataLoader whose workers persist across epochs keeps one sampler,
    which each epoch refills (sampling happens in the training process, so the workers need not restart)."""

    def __init__(self) -> None:
        self.positions: list[int] = []

    def __len__(self) -> int:
        return len(self.positions)

    def __iter__(self) -> Iterator[int]:
        return iter(self.positions)


class StreamSplit(_Sized):
    """A split read sample by sample from a map-style ``Dataset`` returning ``x`` or ``(x, y)``.

    Batches are loaded by ``num_workers`` processes (``None``: :func:`default_workers`), kept alive across
    epochs and prefetching; on CUDA they land in pinned memory so the copy to the device does not block.
    ``order`` draws an epoch's positions (default :func:`epoch_order`; a shard folder visits its shards in turn);
    ``collate`` makes a batch of the samples read (default: stacks them; a dataset that reads whole batches
    through ``__getitems__`` passes its batch on).
    """

    y: torch.Tensor | None = None  # labels are read with the samples, never held as one tensor
    groups: dict[str, np.ndarray] | None = None  # no per-sample metadata (see TensorSplit)

    def __init__(self, dataset: Dataset, num_workers: int | None = None, pin_memory: bool | None = None,
                 order: Order = epoch_order, collate: Callable[[Any], Batch] | None = None) -> None:
        self.dataset = dataset
        self.num_workers = default_workers() if num_workers is None else num_workers
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.order = order
        self.collate = collate or _collate
        self._loaders: dict[tuple[int, bool], tuple[DataLoader, _Positions]] = {}

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"StreamSplit(n={len(self)}, num_workers={self.num_workers})"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_loaders": {}}  # live worker processes stay with their process

    def batches(
        self,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        pad: bool = True,
        buckets: int = 0,
        skip: int = 0,
    ) -> Iterator[Batch]:
        """One epoch of ``(x (B, ...), y (B,) or None)`` batches; shuffling draws from ``generator``; the first
        ``skip`` batches are left out unread (a resume mid-epoch).
        ``buckets`` is accepted and ignored: streamed samples' lengths are unknown until read."""
        _count_batches(len(self), batch_size, drop_last)
        order = self.order(len(self), shuffle, generator, rank, world_size, pad)
        positions = list(range(len(self))) if order is None else order.tolist()
        loader, sampler = self._loader(batch_size, drop_last)
        sampler.positions = positions[skip * batch_size:]
        # Workers' seeds come from the epoch's generator, never the global RNG: a run's noise and dropout draw the
        # same numbers whether its data streams or not, and a resume mid-epoch draws what the whole run drew.
        loader.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        try:
            yield from loader
        except DeepfeatError as exc:
            raise _own_message(exc) from None

    def _loader(self, batch_size: int, drop_last: bool) -> tuple[DataLoader, _Positions]:
        """The DataLoader for this batch size, made once: its workers live as long as the split."""
        key = (batch_size, drop_last)
        if key not in self._loaders:
            sampler = _Positions()
            workers = {"persistent_workers": True, "prefetch_factor": 4, "worker_init_fn": seed_worker} \
                if self.num_workers else {}
            loader = DataLoader(self.dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                                num_workers=self.num_workers, pin_memory=self.pin_memory, collate_fn=self.collate,
                                **workers)
            self._loaders[key] = (loader, sampler)
        return self._loaders[key]


MAX_WORKERS = 8  # past this, more decoding processes rarely speed a single device up and each costs memory


def default_workers() -> int:
    """Data-loading processes for a streamed split: one per core available to this process but one (the training
    process keeps it), at least 1 and at most :data:`MAX_WORKERS`."""
    return max(1, min(len(os.sched_getaffinity(0)) - 1, MAX_WORKERS))


def seed_worker(worker_id: int) -> None:
    """Seed ``random`` and NumPy in a DataLoader worker from the seed torch gave it (drawn from the run's seeded
    generator), so random transforms in workers repeat from run to run."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def _own_message(exc: DeepfeatError) -> DeepfeatError:
    """A deepfeat error with the one line it was raised with: a ``DataLoader`` worker's error comes back with
    the worker's traceback folded into its message, whose last line is ``<module>.<Type>: <message>``."""
    text = str(exc).rstrip()
    if "Original Traceback" not in text:
        return exc
    return type(exc)(text.splitlines()[-1].partition(": ")[2])


Split = Union[TensorSplit, StreamSplit]


@dataclass
class DataBundle:
    """A dataset ready for training: its :class:`DataInfo` and train / val / test splits; ``augment`` (``data.augment``)
    transforms training batches ``(B, ...) -> (B, ...)`` on the training device after their copy, batched, drawing
    from the generator it is given (see :mod:`deepfeat.data.augment`)."""

    info: DataInfo
    train: Split
    val: Split | None = None
    test: Split | None = None
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None

    def splits(self) -> dict[str, Split]:
        """The splits that exist, by name (``"train"``, ``"val"``, ``"test"``)."""
        named = {"train": self.train, "val": self.val, "test": self.test}
        return {name: split for name, split in named.items() if split is not None}
