"""Schedules: conformance over the registry, warm-up, cosine end point, plateau, exact resume."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.optim import SCHEDULERS, build_optimizer, build_scheduler

EPOCHS, STEPS = 4, 5


def _setup(spec: Any, opt_spec: Any = "sgd", **kw: Any):
    model = nn.Linear(3, 1)
    opt = build_optimizer(opt_spec, model)
    return model, opt, build_scheduler(spec, opt, epochs=EPOCHS, steps_per_epoch=STEPS, **kw)


def _lrs(opt: torch.optim.Optimizer, schedule, n: int, metrics: dict | None = None) -> list[float]:
    """Run ``n`` steps (a plain step without gradients), recording the lr; an epoch every STEPS."""
    out = []
    for i in range(n):
        opt.step()
        schedule.step_batch()
        if (i + 1) % STEPS == 0:
            schedule.step_epoch(metrics or {"val/loss": 1.0})
        out.append(schedule.lr)
    return out


@pytest.mark.parametrize("name", SCHEDULERS.names())
def test_every_schedule_trains_with_finite_positive_lr(name: str) -> None:
    model, opt, schedule = _setup(name, {"name": "sgd", "lr": 0.05})
    x = torch.randn(32, 3)
    y = x @ torch.tensor([[1.0], [2.0], [-1.0]])
    first = nn.functional.mse_loss(model(x), y).item()
    for i in range(EPOCHS * STEPS):
        assert math.isfinite(schedule.lr) and schedule.lr > 0  # the rate this step uses
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step_batch()
        if (i + 1) % STEPS == 0:
            schedule.step_epoch({"val/loss": loss.item()})
    assert loss.item() < 0.5 * first


def test_warmup_reaches_base_lr_then_holds() -> None:
    _, opt, schedule = _setup({"name": "constant", "warmup_epochs": 2}, {"name": "sgd", "lr": 0.1})
    used = [schedule.lr] + _lrs(opt, schedule, EPOCHS * STEPS - 1)  # the rate each step uses
    warm = 2 * STEPS
    assert used[0] == pytest.approx(0.1 / warm)
    assert used[:warm] == sorted(used[:warm]) and used[warm - 2] < 0.1
    assert used[warm - 1 :] == pytest.approx([0.1] * (len(used) - warm + 1))


def test_cosine_ends_at_min_lr_after_warmup() -> None:
    spec = {"name": "cosine", "min_lr": "1e-4", "warmup_epochs": 1}
    _, opt, schedule = _setup(spec, {"name": "sgd", "lr": 0.1})
    lrs = _lrs(opt, schedule, EPOCHS * STEPS + 3)  # extra steps must not go past the end
    assert max(lrs) == pytest.approx(0.1)
    assert lrs[EPOCHS * STEPS - 1 :] == pytest.approx([1e-4] * 4)
    after_warmup = lrs[STEPS - 1 : EPOCHS * STEPS]
    assert after_warmup == sorted(after_warmup, reverse=True)


def test_step_and_one_cycle_shapes() -> None:
    _, opt, schedule = _setup({"name": "step", "step_size": 1, "gamma": 0.5}, {"name": "sgd", "lr": 0.1})
    lrs = _lrs(opt, schedule, 2 * STEPS)
    assert lrs[STEPS - 1] == pytest.approx(0.05) and lrs[2 * STEPS - 1] == pytest.approx(0.025)
    _, opt, schedule = _setup({"name": "one_cycle", "max_lr": 0.2}, {"name": "sgd", "lr": 0.1})
    lrs = _lrs(opt, schedule, EPOCHS * STEPS)
    assert max(lrs) == pytest.approx(0.2) and lrs[-1] < 0.2 / 1e4


def test_reduce_on_plateau_after_patience() -> None:
    spec = {"name": "reduce_on_plateau", "patience": 1, "factor": 0.5}
    _, opt, schedule = _setup(spec, {"name": "sgd", "lr": 0.1})
    per_epoch = [schedule.step_epoch({"val/loss": 1.0}) or schedule.lr for _ in range(4)]
    # First epoch sets the best; one epoch of patience; the third non-improving epoch reduces.
    assert per_epoch == pytest.approx([0.1, 0.1, 0.05, 0.05])
    with pytest.raises(ConfigError, match="expected one of train/loss, val/acc, got 'val/loss'"):
        schedule.step_epoch({"train/loss": 1.0, "val/acc": 0.5})


def test_reduce_on_plateau_waits_for_warmup() -> None:
    spec = {"name": "plateau", "patience": 0, "warmup_epochs": 1}
    _, opt, schedule = _setup(spec, {"name": "sgd", "lr": 0.1})
    schedule.step_epoch({"val/loss": 1.0})  # during warm-up: ignored
    lrs = _lrs(opt, schedule, STEPS)
    assert lrs[-1] == pytest.approx(0.1)
    schedule.step_epoch({"val/loss": 2.0})
    assert schedule.lr == pytest.approx(0.01)


@pytest.mark.parametrize("name", SCHEDULERS.names())
def test_resume_continues_identically(name: str) -> None:
    spec = {"name": name, "warmup_epochs": 1} if name != "warmup" else name
    model, opt, schedule = _setup(spec, "adamw")
    losses = [3.0, 2.0, 2.5, 2.5, 2.5, 2.5]
    _lrs(opt, schedule, 7, {"val/loss": losses[0]})
    saved_opt, saved_sched = opt.state_dict(), schedule.state_dict()
    expected = [_lrs(opt, schedule, STEPS, {"val/loss": v}) for v in losses]

    opt2 = build_optimizer("adamw", model)
    schedule2 = build_scheduler(spec, opt2, epochs=EPOCHS, steps_per_epoch=STEPS)
    opt2.load_state_dict(saved_opt)
    schedule2.load_state_dict(saved_sched)
    assert [_lrs(opt2, schedule2, STEPS, {"val/loss": v}) for v in losses] == expected


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'cosine'"):
        _setup("cosin")
    with pytest.raises(ConfigError, match=r"unknown key 'schedule\.min_lrr'.*Did you mean 'min_lr'"):
        _setup({"name": "cosine", "min_lrr": 0.0})
    with pytest.raises(ConfigError, match="warmup_epochs"):
        _setup({"name": "cosine", "warmup_epochs": 9})
    with pytest.raises(ConfigError, match="expected 'min' or 'max'"):
        _setup({"name": "reduce_on_plateau", "mode": "down"})
