"""The shard format: samples in Arrow files written and read with Hugging Face ``datasets``, and a manifest.

A shard folder holds ``shard-00000.arrow``, ``shard-00001.arrow``, ... (rows ``x``: a sample's raw bytes,
``y``: its label or -1, ``id``: where it came from, a file path or a row number) and ``manifest.json``: the
data's :class:`~deepfeat.data.info.DataInfo` (kind, shape, classes, tokenizer), the spec of the source it was
packed from, the samples' dtype, and each shard's row count and sha256.

Why ``datasets``: its Arrow files are memory-mapped, so any sample is read at once by its row (random access),
which makes an epoch's order a plain list of rows: shuffled by the run's seeded generator, cut per process and
per worker, and resumed at any sample by skipping a prefix of the list, with nothing read to get there. The
same files load with ``datasets.Dataset.from_file`` outside deepfeat, and ``datasets`` streams Arrow and Parquet
from object stores through ``fsspec``.

A reader maps one shard at a time per worker process (the one its rows come from), so its resident memory is
bounded by a shard, not by the data: epochs visit shards in turn (:func:`shard_order`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from deepfeat.atomic import file_sha256
from deepfeat.data.info import DataInfo
from deepfeat.errors import DataError
from deepfeat.extras import require

MANIFEST = "manifest.json"
FORMAT = "deepfeat-shards"
VERSION = 1
SHARD_ROWS = 4096  # samples per shard file (about 50 MB of 3x32x32 float images)


def _features() -> Any:
    from datasets import Features, Value

    return Features({"x": Value("binary"), "y": Value("int64"), "id": Value("string")})


def write_shards(batches: Iterator[tuple[list[str], Any, Any]], info: DataInfo, source: dict[str, Any], out: Path,
                 shard_rows: int = SHARD_ROWS) -> dict[str, Any]:
    """Write ``(ids, x (B, ...), y (B,) or None)`` batches into shards of ``shard_rows`` samples under ``out``, then
    the manifest (written last: a folder without one is an unfinished pack). Returns the manifest."""
    require({"shards": ["deepfeat pack"]}, "pack")
    from datasets.arrow_writer import ArrowWriter

    out.mkdir(parents=True, exist_ok=True)
    shards: list[dict[str, Any]] = []
    writer, dtype = None, None
    for ids, x, y in batches:
        x = torch.as_tensor(x).contiguous()
        dtype = dtype or str(x.dtype).removeprefix("torch.")
        rows = {"x": [sample.numpy().tobytes() for sample in x], "id": list(ids),
                "y": [-1] * len(ids) if y is None else torch.as_tensor(y).tolist()}
        at = 0
        while at < len(ids):
            if writer is None:
                shards.append({"file": f"shard-{len(shards):05d}.arrow", "count": 0})
                writer = ArrowWriter(features=_features(), path=str(out / shards[-1]["file"]))
            take = min(len(ids) - at, shard_rows - shards[-1]["count"])
            writer.write_batch({k: v[at:at + take] for k, v in rows.items()})
            shards[-1]["count"] += take
            at += take
            if shards[-1]["count"] == shard_rows:
                _close(writer)
                writer = None
    if writer is not None:
        _close(writer)
    for shard in shards:
        shard["sha256"] = file_sha256(out / shard["file"])
    manifest = {"format": FORMAT, "version": VERSION, "info": {**info.to_dict(), "mean": None, "std": None},
                "source": source, "dtype": dtype or "float32", "count": sum(s["count"] for s in shards),
                "shards": shards}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def _close(writer: Any) -> None:
    writer.finalize()
    writer.close()


def read_manifest(root: Path, where: str, verify: bool) -> dict[str, Any]:
    """The manifest of the shard folder ``root``, each shard checked present with its row count (and its sha256
    when ``verify``); a :class:`DataError` naming the first problem."""
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"shard folder at {where}: expected {path} (written by deepfeat pack), got "
                        f"{type(exc).__name__}: {exc}. Pack the data first: deepfeat pack SOURCE --out {root}.") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise DataError(f"shard manifest {path} at {where}: expected format {FORMAT} version {VERSION}, got "
                        f"{manifest.get('format')} version {manifest.get('version')}. Pack the data again.")
    for shard in manifest["shards"]:
        file = root / shard["file"]
        if not file.is_file():
            raise DataError(f"shard {file} at {where}: expected the file the manifest lists, got none. Pack again.")
        if verify and file_sha256(file) != shard["sha256"]:
            raise DataError(f"shard {file} at {where}: expected sha256 {shard['sha256'][:12]}..., got another "
                            "(the file changed since it was packed). Pack the data again.")
    return manifest


class ShardRows(Dataset):
    """Samples of a shard folder by global row: ``x`` (the stored dtype, ``shape``) normalized by ``info``, with its
    label when labelled. ``__getitems__`` reads a whole batch as Arrow columns, one take per shard, and returns it
    stacked: ``(x (B, ...), y (B,) or None)`` (collate with :func:`as_batch`).

    Each process (a DataLoader worker) keeps only the shard it read last memory-mapped.
    """

    def __init__(self, root: Path, manifest: dict[str, Any], info: DataInfo) -> None:
        self.root, self.info = root, info
        self.files = [s["file"] for s in manifest["shards"]]
        self.starts = np.cumsum([0] + [s["count"] for s in manifest["shards"]])
        self.dtype = np.dtype(manifest["dtype"])
        self.shape = tuple(info.input_shape)
        self.labelled = info.num_classes > 0
        self._open: tuple[int, Any] | None = None

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_open": None}  # a worker maps its own shards

    def _shard(self, j: int) -> Any:
        if self._open is None or self._open[0] != j:
            from datasets import Dataset as ArrowRows

            self._open = None  # unmap the previous shard before mapping the next
            self._open = (j, ArrowRows.from_file(str(self.root / self.files[j])).data.table)  # the pyarrow.Table
        return self._open[1]

    def rows(self, rows: Sequence[int], columns: Sequence[str]) -> Any:
        """Columns ``columns`` of the global ``rows``, in their order, as a ``pyarrow.Table``."""
        import pyarrow as pa

        rows = np.asarray(rows, dtype=np.int64)
        shard_of = np.searchsorted(self.starts, rows, side="right") - 1
        by_shard = np.argsort(shard_of, kind="stable")
        parts = [self._shard(int(j)).select(list(columns)).take(rows[by_shard][shard_of[by_shard] == j] - self.starts[j])
                 for j in np.unique(shard_of)]
        table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        return table if len(parts) == 1 else table.take(pa.array(np.argsort(by_shard)))

    def __getitems__(self, rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        table = self.rows(rows, ["x", "y"] if self.labelled else ["x"])
        column = table.column("x").combine_chunks()
        offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset:column.offset + len(column) + 1]
        values = np.frombuffer(column.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
        x = self.info.normalize(torch.from_numpy(values.view(self.dtype).reshape(len(rows), *self.shape).copy()))
        y = torch.tensor(table.column("y").to_numpy()) if self.labelled else None
        return x, y

    def __getitem__(self, row: int) -> Any:
        x, y = self.__getitems__([row])
        return x[0] if y is None else (x[0], y[0])


def as_batch(batch: tuple[torch.Tensor, torch.Tensor | None]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The DataLoader's collate for :class:`ShardRows`: its ``__getitems__`` already returns the batch."""
    return batch


def shard_order(starts: np.ndarray, rows: np.ndarray, shuffle: bool, generator: torch.Generator | None,
                rank: int = 0, world_size: int = 1, pad: bool = True) -> torch.Tensor:
    """Positions into ``rows`` (a split's global rows) for one epoch of one process, shard by shard.

    Shuffled: the shards' order is drawn from ``generator``, then the split's rows of each shard in a drawn
    order, so a reader moves through one shard at a time. The epoch is cut into ``world_size`` contiguous runs
    of equal length (``pad`` repeats the first positions to even them out), so each process reads its own
    shards, and every sample is read once per epoch across processes.
    """
    shard_of = np.searchsorted(starts, rows, side="right") - 1
    shards = np.unique(shard_of)
    if shuffle:
        shards = shards[torch.randperm(len(shards), generator=generator).numpy()]
    parts = []
    for j in shards:
        at = torch.from_numpy(np.nonzero(shard_of == j)[0])
        parts.append(at[torch.randperm(len(at), generator=generator)] if shuffle else at)
    order = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.int64)
    if world_size == 1:
        return order
    per = -(-len(order) // world_size)
    if pad and len(order) % world_size:
        order = torch.cat([order, order[: per * world_size - len(order)]])
    return order[rank * per:(rank + 1) * per]
