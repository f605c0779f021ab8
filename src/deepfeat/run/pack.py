"""``deepfeat pack SOURCE --out DIR``: any source deepfeat reads, written as shards a run streams from.

The source is named as everywhere else (a folder, a file, a registered name or a ``{name: ...}`` spec) and read
as applying a run reads new data: batch by batch, raw, each sample with its id, so packing a folder larger than
memory keeps memory at about one batch plus one shard being written.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from deepfeat.data.datasets import DATASETS
from deepfeat.data.shard_files import MANIFEST, SHARD_ROWS, write_shards
from deepfeat.errors import ConfigError
from deepfeat.run.new_data import source_samples
from deepfeat.run.runs import data_spec

BATCH = 256  # samples read from the source at a time


def pack(source: Any, out: str | Path, shard_rows: int = SHARD_ROWS) -> dict[str, Any]:
    """Write the samples of ``source`` into shards under ``out`` with a manifest (data info, source spec, dtype,
    counts, sha256 per shard); returns the manifest. ``out`` must not hold a pack already."""
    folder = Path(out).expanduser()
    if (folder / MANIFEST).exists() or (folder.is_dir() and any(folder.glob("shard-*.arrow"))):
        raise ConfigError(f"pack output at --out: expected a new or empty folder, got {folder}, which holds shards "
                          "already. Choose another folder or delete it.")
    if not isinstance(shard_rows, int) or shard_rows < 1:
        raise ConfigError(f"shard size at --shard-rows: expected a positive integer, got {shard_rows!r}. "
                          f"Use the default ({SHARD_ROWS}) or another count of samples per shard.")
    spec = data_spec(source)
    samples, info = source_samples(spec)
    return write_shards(samples.batches(BATCH), info, settings(spec), folder, shard_rows)


def settings(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with every argument its source was read with: the ones given, and the defaults of the others (so the
    manifest says what ``size`` the images were resized to even when the default picked it)."""
    name, given = DATASETS.split_spec(spec, "pack")
    params = DATASETS.params(name) or {}
    defaults = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    return {"name": name, **defaults, **given}
