"""One optimisation step: backward, optional clipping, step; non-finite losses are skipped.

Under float16 autocast a :class:`torch.amp.GradScaler` scales the loss before backward and the gradients
back before clipping and stepping (PyTorch's AMP recipe); its overflows are dropped steps, not failures.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch


def apply_gradients(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    params: Iterable[torch.nn.Parameter] | None = None,
    grad_clip: float | None = None,
    all_ranks: Callable[[bool], bool] = bool,
    scaler: torch.amp.GradScaler | None = None,
) -> torch.Tensor | None:
    """Backpropagate ``loss`` and step ``optimizer``.

    Returns the gradient norm before clipping when ``grad_clip`` is set (else a 0-dim zero), or
    ``None`` when the loss or the gradients are not finite; then no step is taken, so non-finite
    values never reach the weights.

    With a ``scaler`` (float16): gradients that overflow only because the loss was scaled up drop the step and
    halve the scale (GradScaler's calibration: the norm returned is then not finite); they count as not
    finite (``None``) once the scale is down to 1, where no scaling is left to blame.
    """
    optimizer.zero_grad(set_to_none=True)
    (loss if scaler is None else scaler.scale(loss)).backward()
    if scaler is not None:
        scaler.unscale_(optimizer)  # the true gradients: clipping and the norm below see them
    norm = torch.zeros((), device=loss.device)
    if grad_clip is not None or scaler is not None:  # the parameters are listed only when their norm is read
        params = list(params) if params is not None else [p for g in optimizer.param_groups for p in g["params"]]
        if grad_clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
        else:  # whether the scaled gradients overflowed
            norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
    # One host read per step, and only after backward: the CPU has queued all of backward before it waits, so
    # a GPU is not left idle while backward's kernels are launched. Whether to step must be known on the host
    # (an eager optimizer cannot skip on a device flag; GradScaler reads its found_inf the same way); on the
    # CPU the read costs nothing. Every rank runs backward, so DDP's gradient all-reduce never waits for a rank
    # that skipped it, and all_ranks makes the ranks skip together.
    loss_ok, grads_ok = torch.stack([torch.isfinite(loss), torch.isfinite(norm).to(loss.device)]).tolist()
    if not all_ranks(loss_ok):
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.update()  # unscale_ saw the non-finite gradients: the scale backs off
        return None
    grads_ok = all_ranks(grads_ok)
    if scaler is not None:
        return _scaled_step(scaler, optimizer, norm, grads_ok)
    if not grads_ok:
        optimizer.zero_grad(set_to_none=True)
        return None
    optimizer.step()
    return norm


def _scaled_step(scaler: torch.amp.GradScaler, optimizer: torch.optim.Optimizer, norm: torch.Tensor,
                 finite: bool) -> torch.Tensor | None:
    """Step through ``scaler`` when the unscaled gradients are ``finite``, then update its scale."""
    scale = scaler.get_scale()
    if finite:
        scaler.step(optimizer)
    else:
        optimizer.zero_grad(set_to_none=True)
    scaler.update()  # halves the scale after an overflow (unscale_ recorded it), grows it after a quiet stretch
    return norm if finite or scale > 1.0 else None
