"""One optimisation step: backward, optional clipping, step; non-finite losses are skipped.

Whether a step is skipped is decided on the device where torch's optimizer can take the decision there: its
fused kernels (Adam, AdamW, SGD, Adagrad: what :mod:`deepfeat.optim.fused` builds) read a ``found_inf`` flag
and leave weights, moments and step counts as they were when it is set, so no step waits for the GPU to
report the loss. Other optimizers, and float16's loss scaler, decide on the host (one read per step).

Under float16 autocast a :class:`torch.amp.GradScaler` scales the loss before backward and the gradients
back before clipping and stepping (PyTorch's AMP recipe); its overflows are dropped steps, not failures.
"""

from __future__ import annotations

from typing import Callable, Iterable, NamedTuple

import torch


class StepResult(NamedTuple):
    """What a step did: the gradient norm before clipping (a 0-dim zero when it was not computed) and ``skipped``,
    a 0-dim float32 on the loss's device, 1.0 when the step was dropped as non-finite (read it when it is needed)."""

    norm: torch.Tensor
    skipped: torch.Tensor


def _same(flag: torch.Tensor) -> torch.Tensor:
    return flag


def apply_gradients(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    params: Iterable[torch.nn.Parameter] | None = None,
    grad_clip: float | None = None,
    all_ranks: Callable[[bool], bool] = bool,
    scaler: torch.amp.GradScaler | None = None,
    any_rank: Callable[[torch.Tensor], torch.Tensor] = _same,
    skip: torch.Tensor | None = None,
) -> StepResult:
    """Backpropagate ``loss`` and step ``optimizer``, unless the loss (or, when its norm is computed, the
    gradient) is not finite, or ``skip`` (a device flag, 1.0: skip) is set: then no step is taken, so non-finite
    values never reach the weights. ``grad_clip`` clips the gradient norm first.

    ``all_ranks(flag)`` / ``any_rank(flag)`` make every process take the same decision (on the host / on the device).
    With a ``scaler`` (float16): gradients that overflow only because the loss was scaled up drop the step and
    halve the scale (GradScaler's calibration: the norm returned is then not finite, the step not counted as
    skipped); they count as skipped once the scale is down to 1, where no scaling is left to blame.
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
    # Every rank runs backward, so DDP's gradient all-reduce never waits for a rank that skipped it.
    if scaler is None and getattr(optimizer, "_step_supports_amp_scaling", False):
        ok = torch.isfinite(loss) if grad_clip is None else torch.isfinite(loss) & torch.isfinite(norm)
        bad = torch.where(ok, 0.0, 1.0)  # float32, as the fused kernels read found_inf
        if skip is not None:
            bad = torch.maximum(bad, skip)
        return StepResult(norm, _fused_step(optimizer, any_rank(bad)))
    flags = [torch.isfinite(loss), torch.isfinite(norm).to(loss.device)]
    if skip is not None:
        flags.append(skip.to(loss.device) == 0)
    return _host_step(optimizer, norm, torch.stack(flags).tolist(), all_ranks, scaler, loss.device)


def _fused_step(optimizer: torch.optim.Optimizer, bad: torch.Tensor) -> torch.Tensor:
    """Step a fused optimizer, which skips on the device when ``bad`` is 1.0 (what GradScaler hands it as
    ``found_inf``): no host read."""
    optimizer.grad_scale, optimizer.found_inf = None, bad  # type: ignore[attr-defined]
    try:
        optimizer.step()
    finally:
        del optimizer.grad_scale, optimizer.found_inf  # type: ignore[attr-defined]
    return bad


def _host_step(optimizer: torch.optim.Optimizer, norm: torch.Tensor, flags: list[bool], all_ranks: Callable[[bool], bool],
               scaler: torch.amp.GradScaler | None, device: torch.device) -> StepResult:
    """Step when the host read that the loss and the gradients are finite (``flags``: loss finite, gradient norm
    finite, and not told to skip), after backward was queued. An eager optimizer cannot skip on a device flag;
    GradScaler's own step reads its found_inf the same way."""
    return StepResult(norm, torch.full((), float(_dropped(optimizer, flags, all_ranks, scaler)), device=device))


def _dropped(optimizer: torch.optim.Optimizer, flags: list[bool], all_ranks: Callable[[bool], bool],
             scaler: torch.amp.GradScaler | None) -> bool:
    """Step ``optimizer`` unless ``flags`` say not to; whether the step was dropped as non-finite."""
    if not all_ranks(all(flags[:1] + flags[2:])):
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.update()  # unscale_ saw the non-finite gradients: the scale backs off
        return True
    grads_ok = all_ranks(flags[1])
    if scaler is not None:
        scale = scaler.get_scale()
        if grads_ok:
            scaler.step(optimizer)
        else:
            optimizer.zero_grad(set_to_none=True)
        scaler.update()  # halves the scale after an overflow (unscale_ recorded it), grows it after a quiet stretch
        return not grads_ok and scale <= 1.0
    if grads_ok:
        optimizer.step()
    else:
        optimizer.zero_grad(set_to_none=True)
    return not grads_ok
