"""One optimisation step: backward, optional clipping, step; non-finite losses are skipped."""

from __future__ import annotations

from typing import Callable, Iterable

import torch


def apply_gradients(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    params: Iterable[torch.nn.Parameter] | None = None,
    grad_clip: float | None = None,
    all_ranks: Callable[[bool], bool] = bool,
) -> torch.Tensor | None:
    """Backpropagate ``loss`` and step ``optimizer``.

    Returns the gradient norm before clipping when ``grad_clip`` is set (else a 0-dim zero), or
    ``None`` when the loss or the gradients are not finite; then no step is taken, so non-finite
    values never reach the weights.
    """
    optimizer.zero_grad(set_to_none=True)
    # Under torchrun every rank must skip together: a rank that skipped its backward alone would leave
    # the others waiting in DDP's gradient all-reduce forever.
    if not all_ranks(bool(torch.isfinite(loss))):
        return None
    loss.backward()
    norm = torch.zeros(())
    if grad_clip is not None:
        params = list(params) if params is not None else [
            p for g in optimizer.param_groups for p in g["params"]
        ]
        norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
        if not torch.isfinite(norm):
            optimizer.zero_grad(set_to_none=True)
            return None
    optimizer.step()
    return norm
