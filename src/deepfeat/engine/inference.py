"""Batched inference over a split: features and predictions, streamed so outputs can exceed memory."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np
import torch

from deepfeat.engine.device import Precision
from deepfeat.keys import metric_key
from deepfeat.learners.base import Learner


@torch.no_grad()
def iter_outputs(learner: Learner, split: Any, precision: Precision, fn: Callable[[torch.Tensor], torch.Tensor],
                 batch_size: int = 1024, limit: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Yield ``(fn(x) as float32 numpy, labels or None)`` batch by batch, in the split's order."""
    learner.eval()
    seen = 0
    for x, y in split.batches(batch_size):
        if limit is not None and seen >= limit:
            break
        if limit is not None:
            x, y = x[: limit - seen], None if y is None else y[: limit - seen]
        with precision.autocast():
            out = fn(precision.prepare_input(x))
        seen += x.shape[0]
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


@torch.no_grad()
def one_pass(learner: Learner, split: Any, precision: Precision, names: frozenset[str], batch_size: int = 1024,
             limit: int | None = None, prefix: str = "test") -> tuple[dict[str, np.ndarray], np.ndarray | None, dict[str, float]]:
    """Everything asked of one split in a single pass: per-sample outputs and sample-weighted mean metrics.

    ``names`` holds learner output names (``"embed"``, ``"predict_proba"``, ...; see
    :meth:`~deepfeat.learners.base.Learner.inference`) and optionally ``"metrics"``. Per-sample outputs
    (float32, ``(N, ...)``) and labels cover the first ``limit`` samples; metrics (keys ``"<prefix>/<name>"``)
    cover the whole split, so the pass stops at ``limit`` only when no metrics were asked for.
    """
    was_training = learner.training
    learner.eval()
    per_sample = names - {"metrics"}
    outs: dict[str, list[np.ndarray]] = {n: [] for n in per_sample}
    labels: list[np.ndarray] = []
    sums: dict[str, torch.Tensor] = {}
    seen = counted = 0
    for x, y in split.batches(batch_size):
        keep = x.shape[0] if limit is None else max(min(x.shape[0], limit - seen), 0)
        asked = names if keep else names & {"metrics"}
        if not asked:
            break
        with precision.autocast():
            out = learner.inference((precision.prepare_input(x), None if y is None else y.to(precision.device)), asked)
        for k, v in out.pop("metrics", {}).items():
            sums[k] = sums.get(k, 0) + v.float() * x.shape[0]
        counted += x.shape[0]
        for n in per_sample & out.keys():
            outs[n].append(out[n][:keep].float().cpu().numpy())
        if keep and y is not None:
            labels.append(y[:keep].numpy())
        seen += keep
    learner.train(was_training)
    arrays = {n: np.concatenate(v) if v else np.zeros((0, 0), np.float32) for n, v in outs.items()}
    metrics = {metric_key(prefix, k): float(v) / max(counted, 1) for k, v in sums.items()}
    return arrays, (np.concatenate(labels) if labels else None), metrics
