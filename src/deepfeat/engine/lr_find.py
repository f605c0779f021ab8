"""Learning-rate range test (Smith 2017, "Cyclical Learning Rates for Training Neural Networks", 3.3).

A copy of the model trains for a few steps while the learning rate grows exponentially from
``min_lr`` to ``max_lr``; the smoothed loss against the learning rate shows where learning starts,
where it is fastest and where it diverges. The model, its optimizer state and the RNG streams of
the real run are left untouched.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import asdict, dataclass
from typing import Any, ContextManager, Iterator

import numpy as np
import torch

from deepfeat.data.splits import Batch
from deepfeat.engine.device import Precision, resolve_precision
from deepfeat.engine.seeding import epoch_generator
from deepfeat.errors import ConfigError
from deepfeat.learners.base import Learner, StepContext


@dataclass
class LRFindResult:
    """The sweep (``lrs``, raw and smoothed ``losses``) and the suggested learning rate with its reason."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None
    reason: str
    steepest: float | None
    minimum: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def forked_rng(device: torch.device) -> ContextManager[Any]:
    """A context that restores every RNG stream on exit, so side runs leave the real run's randomness alone."""
    return torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])


def _batches(split: Any, batch_size: int, seed: int) -> Iterator[Batch]:
    for epoch in itertools.count():
        yield from split.batches(batch_size, shuffle=True, generator=epoch_generator(seed, epoch),
                                 drop_last=len(split) % batch_size == 1)


def lr_range_test(learner: Learner, split: Any, optimizer: Any = "adam", precision: Precision | None = None, *,
                  batch_size: int = 64, steps: int = 100, min_lr: float = 1e-7, max_lr: float = 10.0,
                  seed: int = 0, beta: float | None = None, diverge: float = 4.0) -> LRFindResult:
    """Sweep the learning rate over ``steps`` batches of ``split`` on a copy of ``learner``.

    The loss is smoothed by a bias-corrected exponential average (``beta``; by default it spans about
    5% of the sweep, so the curve does not lag behind the lr); the sweep stops once the smoothed loss
    exceeds ``diverge`` times its best. Parameter groups keep their relative learning
    rates (layer-wise decay). See :func:`suggest_lr` for the suggestion.
    """
    if not 0 < min_lr < max_lr or steps < 5:
        raise ConfigError(f"lr range test: expected 0 < min_lr < max_lr and steps >= 5, got min_lr={min_lr}, "
                          f"max_lr={max_lr}, steps={steps}")
    precision = precision or resolve_precision("fp32", next(learner.parameters()).device, learner)
    model = copy.deepcopy(learner).train()
    optimizers = model.configure_optimizers(optimizer)
    scales = [[g["lr"] / optimizers[0].param_groups[0]["lr"] for g in o.param_groups] for o in optimizers]
    ctx = StepContext(autocast=precision.autocast, scaler=precision.grad_scaler())
    beta = max(0.0, 1.0 - 20.0 / steps) if beta is None else beta
    lrs, losses, smoothed, avg = [], [], [], 0.0
    with forked_rng(precision.device):
        torch.manual_seed(seed)
        for lr, (x, y) in zip(np.geomspace(min_lr, max_lr, steps), _batches(split, batch_size, seed)):
            for opt, group_scales in zip(optimizers, scales):
                for group, scale in zip(opt.param_groups, group_scales):
                    group["lr"] = float(lr) * scale
            batch = (precision.prepare_input(x), None if y is None else y.to(precision.device))
            loss = float(model.update(batch, optimizers, ctx)["loss"])
            if not math.isfinite(loss):
                break
            avg = beta * avg + (1 - beta) * loss
            lrs.append(float(lr))
            losses.append(loss)
            smoothed.append(avg / (1 - beta ** len(lrs)))
            if smoothed[-1] > diverge * min(smoothed):
                break
    return LRFindResult(lrs, losses, smoothed, *suggest_lr(lrs, smoothed))


def suggest_lr(lrs: list[float], smoothed: list[float]) -> tuple[float | None, str, float | None, float | None]:
    """``(suggestion, reason, steepest, minimum)`` from a sweep's smoothed losses.

    The suggestion is the point of steepest descent of the smoothed loss against ``log10(lr)``
    before its minimum; when no clear descent precedes the minimum, the minimum's lr / 10.
    """
    if len(smoothed) < 5:
        return None, f"the loss diverged after {len(smoothed)} steps; lower min_lr", None, None
    s, logs = np.asarray(smoothed), np.log10(lrs)
    i_min = int(np.argmin(s))
    minimum = lrs[i_min]
    skip = max(1, len(s) // 10)  # the first smoothed values rest on very few losses
    if s[skip] - s[i_min] < 0.05 * abs(s[skip]):
        return None, (f"the smoothed loss never fell by 5% between lr {lrs[0]:.2g} and {lrs[-1]:.2g}: the network does not "
                      "learn at any learning rate (look for vanishing gradients or dead units)"), None, minimum
    steepest = None
    if i_min - skip >= 3:
        slope = np.gradient(s[: i_min + 1], logs[: i_min + 1])[skip:]
        j = skip + int(np.argmin(slope))
        steepest = lrs[j]
        if slope.min() < 0 and s[skip] - s[i_min] > 0.02 * abs(s[skip]):
            return steepest, (f"the smoothed loss falls fastest there ({slope.min():.3g} per decade); "
                              f"it is lowest at lr {minimum:.2g}"), steepest, minimum
    return minimum / 10, (f"no clear descent before the lowest loss at lr {minimum:.2g}; "
                          "a tenth of that is a safe start"), steepest, minimum
