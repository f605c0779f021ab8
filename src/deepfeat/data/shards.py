"""``shards``: a folder written by ``deepfeat pack``, streamed from disk shard by shard.

Samples are stored as the source produced them (decoded, resized, tokenized), so reading one is a copy of its
bytes; each keeps its id (the file path or row number it was packed from), so what a run applied to shards
writes joins back to the original data. Normalization statistics come from a seeded sample of at most
``stats_samples`` training rows, never a pass over the whole folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from deepfeat.data.bundle import LoadOptions, check_fractions, split_indices
from deepfeat.data.datasets import importable, register_dataset
from deepfeat.data.info import DataInfo
from deepfeat.data.kinds import DataKind
from deepfeat.data.shard_files import ShardRows, as_batch, read_manifest, shard_order
from deepfeat.data.splits import DataBundle, StreamSplit
from deepfeat.data.validation_policy import resolve_val_fraction
from deepfeat.errors import DataError
from deepfeat.extras import require


class ShardSplit(Dataset):
    """The rows ``split_rows`` of a shard folder (one split) as a map-style dataset, with the samples' ``ids``."""

    def __init__(self, rows_of: ShardRows, split_rows: np.ndarray) -> None:
        self.rows_of, self.split_rows = rows_of, split_rows

    def __len__(self) -> int:
        return len(self.split_rows)

    def __getitems__(self, positions: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.rows_of.__getitems__(self.split_rows[np.asarray(positions, dtype=np.int64)].tolist())

    def __getitem__(self, position: int) -> Any:
        return self.rows_of[int(self.split_rows[position])]

    @property
    def ids(self) -> list[str]:
        """Each sample's id: the file path or row number it was packed from (the shards' small ``id`` column)."""
        return self.rows_of.rows(self.split_rows.tolist(), ["id"]).column("id").to_pylist()

    def order(self, n: int, shuffle: bool, generator: torch.Generator | None, rank: int = 0, world_size: int = 1,
              pad: bool = True) -> torch.Tensor:
        """One epoch's positions for one process (:func:`~deepfeat.data.shard_files.shard_order`)."""
        return shard_order(self.rows_of.starts, self.split_rows, shuffle, generator, rank, world_size, pad)


def _labels(rows_of: ShardRows) -> np.ndarray | None:
    if not rows_of.labelled:
        return None
    return rows_of.rows(range(len(rows_of)), ["y"]).column("y").to_numpy()


def _sample_stats(train: ShardSplit, count: int, seed: int, kind: DataKind) -> tuple[list[float], list[float]]:
    picks = np.sort(np.random.default_rng(seed).permutation(len(train))[:count])
    return kind.statistics(train.__getitems__(picks.tolist())[0].float())


@register_dataset("shards", available=importable("datasets"), folder_suffixes=(".arrow",))
def shards(
    root: str,  # the folder deepfeat pack wrote (shard-*.arrow and manifest.json)
    num_workers: int | None = None,  # DataLoader processes reading shards; null: from the cores available
    stats_samples: int = 512,  # at most this many training samples estimate the normalization's mean and std
    verify: bool = True,  # check every shard's sha256 against the manifest before reading (one pass over the files)
    *,
    options: LoadOptions = LoadOptions(),
) -> DataBundle:
    """Samples packed by ``deepfeat pack`` into ``root``, streamed shard by shard with their ids.

    Validation and test samples are drawn from the shards (seeded, stratified); training epochs visit the
    shards in a seeded order, and under torchrun each process reads its own run of shards.
    """
    require({"shards": ["data: shards"]}, options.where)
    folder = Path(root).expanduser()
    manifest = read_manifest(folder, f"{options.where}.root", verify)
    info = DataInfo.from_dict({**manifest["info"], "name": f"shards:{folder.name}"})
    rows_of = ShardRows(folder, manifest, info)
    if len(rows_of) == 0:
        raise DataError(f"shard folder at {options.where}.root: expected at least one sample, got 0 in {folder}. "
                        "Pack a source that has samples.")
    check_fractions(options.val_fraction or 0.0, options.test_fraction, options.where)
    fractions = [resolve_val_fraction(options.val_fraction, len(rows_of)), options.test_fraction]
    parts = [ShardSplit(rows_of, idx) for idx in split_indices(len(rows_of), _labels(rows_of), fractions, options.seed)]
    if options.normalize and info.kind_spec.stats is not None:
        info.mean, info.std = _sample_stats(parts[0], stats_samples, options.seed, info.kind_spec)
    splits = [StreamSplit(p, num_workers=num_workers, order=p.order, collate=as_batch) if len(p) else None for p in parts]
    return DataBundle(info, splits[0], splits[1], splits[2])  # type: ignore[arg-type]

