"""Batched inference over a split under a run's precision: features, predictions and sample-weighted means.

Each function here is :func:`~deepfeat.learners.inference.run_batches` (the one inference loop: eval mode
restored afterwards, no autograd, a sample limit) bound to a :class:`Precision` (device, input layout, autocast).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch

from deepfeat.engine.device import Precision
from deepfeat.engine.distributed import DistContext, all_reduce_sum
from deepfeat.keys import metric_key
from deepfeat.learners.base import Learner
from deepfeat.learners.inference import Batch, run_batches


def infer(learner: Learner, batches: Iterable[tuple[torch.Tensor, torch.Tensor | None]], precision: Precision,
          fn: Callable[[Batch], Any], limit: int | None = None) -> Iterator[tuple[Any, torch.Tensor | None, int]]:
    """:func:`~deepfeat.learners.inference.run_batches` on ``precision``'s device, input layout and autocast."""
    return run_batches(learner, batches, fn, prepare=precision.prepare_input, device=precision.device,
                       autocast=precision.autocast, limit=limit)


class Mean:
    """Sample-weighted running means of scalar tensors, read once at the end (no per-batch host sync)."""

    def __init__(self, reduce: bool = False) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.n = 0
        self.reduce = reduce

    def add(self, metrics: dict[str, torch.Tensor], n: int, skipped: torch.Tensor | None = None) -> None:
        """Add a batch of ``n`` samples. Where ``skipped`` (a 0-dim device flag: a dropped training step) is set, its
        values count as zeros, with no host read; :meth:`drop` then takes its samples out of the count."""
        keep = None if skipped is None else skipped == 0
        for k, v in metrics.items():  # one in-place kernel per metric and batch, on the metric's device
            v = v.detach() if keep is None else torch.where(keep, v.detach(), 0.0)
            total = self.sums.get(k)
            self.sums[k] = v.float() * n if total is None else total.add_(v, alpha=n)
        self.n += n

    def drop(self, n: int) -> None:
        """Take ``n`` samples of skipped batches out of the count (once their flags were read)."""
        self.n -= n

    def result(self, prefix: str) -> dict[str, float]:
        """Means keyed ``"<prefix>/<name>"`` (over every process when ``reduce``: sums and counts are all-reduced)."""
        sums = {**self.sums, "__n__": torch.tensor(float(self.n))}
        sums = all_reduce_sum(sums) if self.reduce else sums
        n = max(float(sums.pop("__n__")), 1.0)
        return {metric_key(prefix, k): float(v) / n for k, v in sums.items()}


def evaluate_split(learner: Learner, split: Any, prefix: str, precision: Precision, batch_size: int = 1024,
                   dist: DistContext | None = None) -> dict[str, float]:
    """Sample-weighted mean of ``validation_step`` metrics over a split, keys ``"<prefix>/<name>"``.

    With a distributed ``dist`` each process evaluates its shard and the means are all-reduced.
    """
    dist = dist or DistContext()
    mean = Mean(dist.enabled)
    batches = split.batches(batch_size, rank=dist.rank, world_size=dist.world_size, pad=False)
    for metrics, _, n in infer(learner, batches, precision, learner.validation_step):
        mean.add(metrics, n)
    return mean.result(prefix)


def iter_outputs(learner: Learner, split: Any, precision: Precision, fn: Callable[[torch.Tensor], torch.Tensor],
                 batch_size: int = 1024, limit: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Yield ``(fn(x) as float32 numpy, labels or None)`` batch by batch, in the split's order."""
    for out, y, _ in infer(learner, split.batches(batch_size), precision, lambda b: fn(b[0]), limit):
        yield out.float().cpu().numpy(), None if y is None else y.numpy()


def collect(learner: Learner, split: Any, precision: Precision, fn: Callable[[torch.Tensor], torch.Tensor],
            batch_size: int = 1024, limit: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """All outputs of :func:`iter_outputs` concatenated: ``(N, D)`` and labels ``(N,)`` or None."""
    outs, labels = [], []
    for z, y in iter_outputs(learner, split, precision, fn, batch_size, limit):
        outs.append(z)
        if y is not None:
            labels.append(y)
    z = np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)
    return z, (np.concatenate(labels) if labels else None)


def one_pass(learner: Learner, split: Any, precision: Precision, names: frozenset[str], batch_size: int = 1024,
             limit: int | None = None, prefix: str = "test") -> tuple[dict[str, np.ndarray], np.ndarray | None, dict[str, float]]:
    """Everything asked of one split in a single pass: per-sample outputs and sample-weighted mean metrics.

    ``names`` holds learner output names (``"embed"``, ``"predict_proba"``, ...; see
    :meth:`~deepfeat.learners.base.Learner.inference`) and optionally ``"metrics"``. Per-sample outputs
    (float32, ``(N, ...)``) and labels cover the first ``limit`` samples; metrics (keys ``"<prefix>/<name>"``)
    cover the whole split, so the pass stops at ``limit`` only when no metrics were asked for.
    """
    per_sample = names - {"metrics"}
    whole = "metrics" in names and limit is not None
    seen = 0

    def ask(batch: Batch) -> tuple[int, dict[str, Any]]:
        nonlocal seen  # batches run in order: the first ``limit`` samples get their per-sample outputs
        keep = max(min(batch[0].shape[0], limit - seen), 0) if whole else batch[0].shape[0]
        seen += keep
        return keep, learner.inference(batch, names if keep else frozenset({"metrics"}))

    outs: dict[str, list[np.ndarray]] = {n: [] for n in per_sample}
    labels: list[np.ndarray] = []
    mean = Mean()
    for (keep, out), y, n in infer(learner, split.batches(batch_size), precision, ask, None if whole else limit):
        mean.add(out.pop("metrics", {}), n)
        for k in per_sample & out.keys():
            outs[k].append(out[k][:keep].float().cpu().numpy())
        if keep and y is not None:
            labels.append(y[:keep].numpy())
    arrays = {k: np.concatenate(v) if v else np.zeros((0, 0), np.float32) for k, v in outs.items()}
    return arrays, (np.concatenate(labels) if labels else None), mean.result(prefix)
