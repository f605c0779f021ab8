"""New data for a trained run: every sample of a name, path or spec, read as the run read its own, in batches with ids.

Applying a run (embed, score, denoise, predict) never holds a whole folder or file in memory: samples come
batch by batch, raw (the run normalizes them itself), each with an id that says where it came from. A file
source's id is the file's path relative to the data folder (``cat/001.png``); an array's or a table's is the
row index (``0``, ``1``, ...).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch.utils.data import Subset

from deepfeat.data.chunks import STREAMABLE, count_rows, iter_chunks
from deepfeat.data.datasets import load_dataset
from deepfeat.data.info import DataInfo
from deepfeat.data.splits import Split
from deepfeat.errors import ConfigError, DataError
from deepfeat.run.runs import Run, model_data_spec

log = logging.getLogger(__name__)

CHUNK_ROWS = 8192  # samples read from a .npy / .csv file at a time (a few MB for images)

Batch = tuple[list[str], np.ndarray | torch.Tensor, torch.Tensor | None]  # ids, raw samples (B, ...), labels or None


@dataclass
class NewSamples:
    """``count`` samples; :meth:`batches` yields ``(ids, raw x (B, ...), y (B,) or None)`` in order.

    ``labelled``: every sample comes with its label (in-memory labelled data), so outputs can carry it.
    """

    count: int
    labelled: bool
    _batches: Callable[[int], Iterator[Batch]]

    def batches(self, batch_size: int) -> Iterator[Batch]:
        return self._batches(batch_size)


def new_samples(run: Run, data: Any) -> NewSamples:
    """The samples of ``data`` for ``run``: an array or tensor ``(N, *input_shape)``, a .npy / .csv file (read in
    chunks), or any source a name, path or spec names (:func:`~deepfeat.run.runs.model_data_spec`)."""
    if isinstance(data, (np.ndarray, torch.Tensor)):
        return NewSamples(len(data), False, lambda b: _array_batches(data, b))
    spec, reused = model_data_spec(run.config, run.info, data)
    if reused:
        log.info("reading %s with the data settings of run %s: %s (from its config; set them in the data spec to "
                 "change them)", data, run.dir.name, _settings(reused))
    path = Path(str(spec.get("path", "")))
    streamable = path.suffix.lower() in STREAMABLE and path.is_file() and spec.get("label_column", "auto") == "auto"
    if spec["name"] == "arrays" and streamable and not spec.get("categories"):  # a memory map or row chunks
        return NewSamples(count_rows(path), False, lambda b: _file_batches(run, path, b))
    samples, info = source_samples(spec)
    if tuple(info.input_shape) != tuple(run.info.input_shape):
        raise ConfigError(f"data {data} for run {run.dir.name}: expected samples of shape "
                          f"{tuple(run.info.input_shape)} (what the run was trained on), got "
                          f"{tuple(info.input_shape)} from {spec['name']}. Drop the "
                          "settings that differ from the run's config.yaml (data:), so the run's own are used.")
    return samples


def source_samples(spec: dict[str, Any]) -> tuple[NewSamples, DataInfo]:
    """Every sample of the source ``spec`` names (all its splits, raw), with ids, and the source's data info."""
    bundle = load_dataset(spec, val_fraction=0.0, test_fraction=0.0, normalize=False)
    splits = list(bundle.splits().values())
    roots = [Path(str(spec[k])) for k in ("root", "test_root") if spec.get(k)]
    labelled = all(getattr(s, "y", None) is not None for s in splits)
    return NewSamples(sum(len(s) for s in splits), labelled, lambda b: _split_batches(splits, roots, b)), bundle.info


def _settings(reused: dict[str, Any]) -> str:
    """``size=16, grayscale=True, tokenizer (the run's own)`` for the log line."""
    return ", ".join(f"{k} (the run's own)" if isinstance(v, dict) else f"{k}={v}" for k, v in reused.items())


def _rows(start: int, n: int) -> list[str]:
    return [str(i) for i in range(start, start + n)]


def _array_batches(x: np.ndarray | torch.Tensor, batch_size: int) -> Iterator[Batch]:
    for i in range(0, len(x), batch_size):
        part = x[i:i + batch_size]
        yield _rows(i, len(part)), part, None


def _split_batches(splits: list[Split], roots: list[Path], batch_size: int) -> Iterator[Batch]:
    start = 0
    for split in splits:
        ids = sample_ids(split, roots, start)
        at = 0
        for x, y in split.batches(batch_size):
            yield ids[at:at + len(x)], x, y
            at += len(x)
        start += len(split)


def sample_ids(split: Split, roots: list[Path], start: int = 0) -> list[str]:
    """Each sample's id: the ``ids`` a streamed dataset keeps (shards), else its file's path relative to the first
    of ``roots`` holding it, for one that lists its ``files`` (image and audio folders); else its row number,
    counted from ``start``."""
    dataset, rows = getattr(split, "dataset", None), range(len(split))
    if isinstance(dataset, Subset):
        dataset, rows = dataset.dataset, dataset.indices
    ids = getattr(dataset, "ids", None)  # a shard folder keeps the ids its samples were packed with
    if ids is not None:
        return list(ids)
    files = getattr(dataset, "files", None)
    if files is None:
        return _rows(start, len(split))
    return [_relative(Path(files[i]), roots) for i in rows]


def _relative(file: Path, roots: list[Path]) -> str:
    for root in roots:
        try:
            return file.resolve().relative_to(root.expanduser().resolve()).as_posix()
        except ValueError:
            continue
    return str(file)


def _file_batches(run: Run, path: Path, batch_size: int) -> Iterator[Batch]:
    """Samples of a .npy / .csv file in chunks (a memory map for .npy): memory stays at about one chunk."""
    start = 0
    for chunk in iter_chunks(path, rows=max(batch_size, CHUNK_ROWS)):
        chunk = _in_shape(chunk, run, path, start)
        for i in range(0, len(chunk), batch_size):
            part = chunk[i:i + batch_size]
            yield _rows(start + i, len(part)), part, None
        start += len(chunk)


def _in_shape(chunk: np.ndarray, run: Run, path: Path, start: int) -> np.ndarray:
    """A chunk in the run's input shape (a table's rows reshaped), checked finite; errors name the sample."""
    shape = tuple(run.info.input_shape)
    if chunk.shape[1:] != shape and chunk.ndim == 2 and chunk.shape[1] == int(np.prod(shape)):
        chunk = chunk.reshape(-1, *shape)  # a table of flattened samples, one per row
    if chunk.shape[1:] != shape:
        raise ConfigError(f"data {path}: expected samples of shape {shape} (what run {run.dir.name} was "
                          f"trained on) or rows of {int(np.prod(shape))} values, got {tuple(chunk.shape[1:])}")
    bad = ~np.isfinite(chunk.reshape(len(chunk), -1)).all(axis=1)
    if bad.any():
        raise DataError(f"input values at {path}: expected finite numbers, got NaN or inf values (first in sample "
                        f"{start + int(np.argmax(bad))}). Impute or drop those samples first.")
    return chunk
