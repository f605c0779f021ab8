"""Batched inference over a split: features and predictions, streamed so outputs can exceed memory."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np
import torch

from deepfeat.engine.device import Precision
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
