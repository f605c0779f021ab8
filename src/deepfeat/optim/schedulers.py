"""Learning-rate schedules by registry name, stepped per batch (or per epoch for plateau).

Every schedule takes ``warmup_epochs``: a linear warm-up from ``base_lr / warmup_steps`` to the
base rate, after which the schedule runs over the remaining steps. Per-step schedules are one
``LambdaLR`` whose multiplier is a plain function of the step, so a schedule rebuilt from the same
spec and given the saved ``state_dict`` continues exactly where it stopped.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR, ReduceLROnPlateau

from deepfeat.errors import ConfigError
from deepfeat.registry import Registry, check_kwargs


class Schedule:
    """What the trainer drives: ``step_batch()`` after each optimizer step, ``step_epoch(metrics)`` after validation."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        per_step: LRScheduler,
        last_step: int,
        plateau: ReduceLROnPlateau | None = None,
        monitor: str | None = None,
        where: str = "schedule",
    ) -> None:
        self.optimizer = optimizer
        self.per_step = per_step
        self.last_step = last_step  # stepping past it would extrapolate the curve (OneCycleLR raises)
        self.plateau = plateau
        self.monitor = monitor
        self.where = where

    def step_batch(self) -> None:
        """Advance one optimizer step."""
        if self.per_step.last_epoch < self.last_step:
            self.per_step.step()

    def step_epoch(self, metrics: dict[str, float]) -> None:
        """End of an epoch; only the plateau schedule acts, once warm-up is over."""
        if self.plateau is None or self.per_step.last_epoch < self.last_step:
            return
        if self.monitor not in metrics:
            raise ConfigError(
                f"monitored metric at {self.where}.monitor: expected one of "
                f"{', '.join(sorted(metrics)) or '(no metrics logged)'}, got '{self.monitor}'. "
                "Set monitor to a logged key (validation metrics need validation data)."
            )
        self.plateau.step(float(metrics[self.monitor]))

    @property
    def lr(self) -> float:
        """Current learning rate of the first param group."""
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        return {
            "per_step": self.per_step.state_dict(),
            "plateau": self.plateau.state_dict() if self.plateau is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.per_step.load_state_dict(state["per_step"])
        if self.plateau is not None:
            self.plateau.load_state_dict(state["plateau"])


SCHEDULERS: Registry[Schedule] = Registry("scheduler", takes=1, fills=("epochs", "steps_per_epoch"))


def _lambda_schedule(
    optimizer: torch.optim.Optimizer,
    epochs: int,
    steps_per_epoch: int,
    warmup_epochs: float,
    shape: Callable[[int, int], float],
) -> Schedule:
    """A per-step ``LambdaLR``: linear warm-up, then ``shape(step_after_warmup, steps_after_warmup)``."""
    total = epochs * steps_per_epoch
    warmup_steps = round(warmup_epochs * steps_per_epoch)
    rest = max(total - warmup_steps, 1)

    def factor(i: int) -> float:
        if i < warmup_steps:
            return (i + 1) / warmup_steps  # starts near 0, never at 0: no wasted step
        return shape(i - warmup_steps, rest)

    return Schedule(optimizer, LambdaLR(optimizer, factor), total)


@SCHEDULERS.register("constant")
def constant(
    optimizer: torch.optim.Optimizer, *, epochs: int, steps_per_epoch: int, warmup_epochs: float = 0.0
) -> Schedule:
    """Constant learning rate (after the optional warm-up)."""
    return _lambda_schedule(optimizer, epochs, steps_per_epoch, warmup_epochs, lambda t, n: 1.0)


@SCHEDULERS.register("warmup")
def warmup(
    optimizer: torch.optim.Optimizer, *, epochs: int, steps_per_epoch: int, warmup_epochs: float = 1.0
) -> Schedule:
    """Linear warm-up over ``warmup_epochs``, then constant (Goyal et al., 2017)."""
    return constant(optimizer, epochs=epochs, steps_per_epoch=steps_per_epoch, warmup_epochs=warmup_epochs)


@SCHEDULERS.register("step")
def step(
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    steps_per_epoch: int,
    step_size: int = 30,
    gamma: float = 0.1,
    warmup_epochs: float = 0.0,
) -> Schedule:
    """Multiply the rate by ``gamma`` every ``step_size`` epochs (counted after warm-up)."""
    if step_size < 1:
        raise ConfigError(f"schedule.step_size: expected a whole number of epochs >= 1, got {step_size}.")
    period = step_size * steps_per_epoch
    return _lambda_schedule(
        optimizer, epochs, steps_per_epoch, warmup_epochs, lambda t, n: gamma ** (t // period)
    )


@SCHEDULERS.register("cosine", aliases=("cosine_annealing",))
def cosine(
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    steps_per_epoch: int,
    min_lr: float = 0.0,
    warmup_epochs: float = 0.0,
) -> Schedule:
    """Cosine annealing to ``min_lr`` by the last step (Loshchilov & Hutter, 2017, SGDR, without restarts).

    ``min_lr`` is the first group's final rate; other groups end at the same fraction of their own
    rate, so layer-wise ratios hold throughout.
    """
    ratio = min_lr / optimizer.param_groups[0]["lr"]
    return _lambda_schedule(
        optimizer,
        epochs,
        steps_per_epoch,
        warmup_epochs,
        lambda t, n: ratio + (1.0 - ratio) * 0.5 * (1.0 + math.cos(math.pi * min(t, n) / n)),
    )


@SCHEDULERS.register("one_cycle", aliases=("onecycle",))
def one_cycle(
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    steps_per_epoch: int,
    max_lr: float | None = None,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    warmup_epochs: float = 0.0,
) -> Schedule:
    """One-cycle policy (Smith & Topin, 2019, "Super-Convergence"): up to ``max_lr``, then down.

    ``max_lr`` defaults to the optimizer's rate; ``warmup_epochs`` > 0 sets the rising phase
    (``pct_start = warmup_epochs / epochs``). Momentum (or Adam's beta1) cycles inversely when the
    optimizer has one.
    """
    total = epochs * steps_per_epoch
    if warmup_epochs > 0:
        pct_start = warmup_epochs / epochs
    lrs = [g["lr"] for g in optimizer.param_groups]
    scale = 1.0 if max_lr is None else max_lr / lrs[0]  # keep layer-wise ratios between groups
    has_momentum = "betas" in optimizer.defaults or optimizer.defaults.get("momentum", 0) > 0
    scheduler = OneCycleLR(
        optimizer,
        max_lr=[lr * scale for lr in lrs],
        total_steps=total,
        pct_start=pct_start,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        cycle_momentum=has_momentum,
    )
    return Schedule(optimizer, scheduler, total - 1)


@SCHEDULERS.register("reduce_on_plateau", aliases=("plateau",))
def reduce_on_plateau(
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    steps_per_epoch: int,
    monitor: str = "val/loss",
    mode: str = "min",
    factor: float = 0.1,
    patience: int = 10,
    min_lr: float = 0.0,
    warmup_epochs: float = 0.0,
) -> Schedule:
    """Divide the rate by ``1/factor`` after ``patience`` epochs without improvement of ``monitor``."""
    if mode not in ("min", "max"):
        raise ConfigError(f"schedule.mode: expected 'min' or 'max', got {mode!r}.")
    warm = _lambda_schedule(optimizer, epochs, steps_per_epoch, warmup_epochs, lambda t, n: 1.0)
    warmup_steps = round(warmup_epochs * steps_per_epoch)
    plateau = ReduceLROnPlateau(optimizer, mode=mode, factor=factor, patience=patience, min_lr=min_lr)
    # The warm-up LambdaLR stops at its end so it never overwrites the plateau's reductions.
    return Schedule(optimizer, warm.per_step, warmup_steps, plateau, monitor)


def build_scheduler(
    spec: Any,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    steps_per_epoch: int,
    where: str = "schedule",
) -> Schedule:
    """Build a :class:`Schedule` from a registry spec (``"cosine"`` or ``{name: cosine, min_lr: 1e-5}``)."""
    if isinstance(spec, Schedule):
        return spec
    if epochs < 1 or steps_per_epoch < 1:
        raise ConfigError(
            f"schedule length at {where}: expected epochs >= 1 and steps_per_epoch >= 1, "
            f"got {epochs} and {steps_per_epoch}."
        )
    name, kwargs = SCHEDULERS.split_spec(spec, where)
    factory = SCHEDULERS.get(name)
    kwargs = check_kwargs(factory, kwargs, where, skip=1, extra={"epochs": 0, "steps_per_epoch": 0})
    warmup_epochs = kwargs.get("warmup_epochs", 0.0)
    if not 0.0 <= warmup_epochs <= epochs:
        raise ConfigError(
            f"value at {where}.warmup_epochs: expected a number in [0, {epochs}] (the run's epochs), "
            f"got {warmup_epochs}."
        )
    schedule = factory(optimizer, epochs=epochs, steps_per_epoch=steps_per_epoch, **kwargs)
    schedule.where = where
    return schedule
