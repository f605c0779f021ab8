"""The one loop that runs a module over held-out batches: eval mode, no autograd, autocast, a sample limit.

Every inference in deepfeat goes through :func:`run_batches`: the trainer's validation, the run layer's
outputs and ``Run.apply``, the scikit-learn estimators, the generative evaluation and a GAN's sampling
(:mod:`deepfeat.engine.inference` binds it to a run's :class:`~deepfeat.engine.device.Precision`). It lives on
the learners' floor so that a learner's own batched methods (a GAN's ``sample``) use it too.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Any, Callable, ContextManager, Iterable, Iterator

import torch
from torch import nn

Batch = tuple[torch.Tensor, "torch.Tensor | None"]


@contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """``module`` in eval mode for the block; the mode it had (training included) comes back however the block ends,
    so an inference in the middle of training (validation, a sample grid) never leaves dropout or batch norm off."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def _same(x: torch.Tensor) -> torch.Tensor:
    return x


def run_batches(module: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor | None]],
                fn: Callable[[Batch], Any], *, prepare: Callable[[torch.Tensor], torch.Tensor] = _same,
                device: torch.device | None = None, autocast: Callable[[], ContextManager[Any]] = nullcontext,
                limit: int | None = None) -> Iterator[tuple[Any, torch.Tensor | None, int]]:
    """Yield ``(fn((prepare(x), y on device)), y, n)`` for each ``(x, y)`` of ``batches``, in order.

    ``module`` is in eval mode while the batches run (its mode restored after, also on an exception or when the
    caller stops early); ``fn`` runs without autograd under ``autocast()``. ``limit`` stops after that many samples,
    the last batch cut to fit; ``y`` (as given, or None) and ``n`` (its size) are of the batch as cut.
    """
    with evaluating(module):
        seen = 0
        for x, y in batches:
            if limit is not None:
                if seen >= limit:
                    break
                x, y = x[: limit - seen], None if y is None else y[: limit - seen]
            batch = (prepare(x), None if y is None else y.to(device or y.device, non_blocking=True))
            with torch.no_grad(), autocast():  # around fn only: the grad mode is not left off in the caller's frame
                out = fn(batch)
            seen += x.shape[0]
            yield out, y, x.shape[0]
