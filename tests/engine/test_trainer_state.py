"""The trainer keeps to itself: the caller's config and thread count are left as they were, callbacks only
observe, every fit starts fresh; float16 trains with a loss scaler that checkpoints carry."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from deepfeat.data.bundle import from_arrays
from deepfeat.engine.callbacks import Callback, ModelCheckpoint
from deepfeat.engine.checkpoint import load_checkpoint
from deepfeat.engine.device import resolve_precision
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import TrainingError
from deepfeat.learners.base import StepContext
from deepfeat.learners.build import build_learner


def _data(val_fraction: float = 0.2):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 6, generator=g)
    y = (x[:, 0] > 0).long()
    return from_arrays(x.numpy(), y.numpy(), kind="vector", val_fraction=val_fraction, test_fraction=0.0)


def _learner(data):
    return build_learner("classifier", data.info, {"name": "mlp", "hidden": [8]})


class _Record(Callback):
    """Records what a callback sees: the thread count during the fit, the loss scale at its start."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.threads: list[int] = []
        self.scale: float | None = None
        self.fail_at = fail_at

    def on_fit_start(self, trainer: Trainer) -> None:
        self.scale = trainer.scaler.get_scale() if trainer.scaler is not None else None

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        self.threads.append(torch.get_num_threads())
        if epoch + 1 == self.fail_at:
            raise RuntimeError("callback failed")


def test_a_trainer_knows_its_process_context_before_fit() -> None:
    trainer = Trainer(TrainingConfig(progress="none"))
    assert trainer.dist.is_main and not trainer.dist.enabled and trainer.last_checkpoint is None


def test_fit_returns_the_resolved_plan_and_leaves_the_callers_config_alone(tmp_path: Path) -> None:
    data = _data(val_fraction=0.0)  # no validation split: the policy reads val/acc as train/acc, keeps the last epoch
    cfg = TrainingConfig(epochs=2, batch_size=32, monitor="val/acc", mode="max", progress="none")
    trainer = Trainer(cfg, callbacks=[ModelCheckpoint(tmp_path)])
    result = trainer.fit(_learner(data), data)
    assert (cfg.monitor, cfg.restore_best) == ("val/acc", True)
    assert result.plan == trainer.plan and (result.plan.monitor, result.plan.restore_best) == ("train/acc", False)
    assert "train/acc" in result.best and trainer.best_state is None
    assert not (tmp_path / "best.pt").exists()  # the checkpoint callback follows the plan, not the config


def test_threads_hold_for_the_fit_alone_however_it_ends() -> None:
    data = _data()
    assert torch.get_num_threads() == 1  # as tests/conftest.py sets it
    seen = _Record()
    trainer = Trainer(TrainingConfig(epochs=1, batch_size=32, progress="none", threads=2), callbacks=[seen])
    assert torch.get_num_threads() == 1  # building a trainer changes nothing
    trainer.fit(_learner(data), data)
    assert seen.threads == [2] and torch.get_num_threads() == 1
    failing = _Record(fail_at=1)
    with pytest.raises(RuntimeError, match="callback failed"):
        Trainer(TrainingConfig(epochs=2, batch_size=32, progress="none", threads=2),
                callbacks=[failing]).fit(_learner(data), data)
    assert failing.threads == [2] and torch.get_num_threads() == 1


def test_the_failure_names_the_last_checkpoint_its_callback_wrote(tmp_path: Path) -> None:
    data = _data()
    learner = _learner(data)
    original = learner.training_step
    calls = {"n": 0}

    def diverging(batch):  # type: ignore[no-untyped-def]
        out = original(batch)
        calls["n"] += 1
        if calls["n"] > 2:  # epoch 1 (2 steps) trains; every loss after it is NaN
            out["loss"] = out["loss"] * float("nan")
        return out

    learner.training_step = diverging  # type: ignore[method-assign]
    checkpoint = ModelCheckpoint(tmp_path)
    trainer = Trainer(TrainingConfig(epochs=3, batch_size=32, max_nonfinite=2, progress="none"), callbacks=[checkpoint])
    with pytest.raises(TrainingError, match=f"the last good checkpoint is {tmp_path / 'last.pt'}"):
        trainer.fit(learner, data)
    assert checkpoint.last_checkpoint() == tmp_path / "last.pt" == trainer.last_checkpoint
    # The divergence is read at the end of epoch 2, before the checkpoint callback sees that epoch.
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1


class _StopFirstFit(Callback):
    def __init__(self) -> None:
        self.fits = 0

    def on_fit_start(self, trainer: Trainer) -> None:
        self.fits += 1

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if self.fits == 1:
            trainer.stop("stopped by the test")


def test_a_second_fit_starts_fresh() -> None:
    data = _data()
    learner = _learner(data)
    calls = {"n": 0}
    original = learner.training_step

    def first_step_nan(batch):  # type: ignore[no-untyped-def]
        out = original(batch)
        calls["n"] += 1
        if calls["n"] == 1:  # the first fit's first step is skipped
            out["loss"] = out["loss"] * float("nan")
        return out

    learner.training_step = first_step_nan  # type: ignore[method-assign]
    trainer = Trainer(TrainingConfig(epochs=2, batch_size=32, progress="none"), callbacks=[_StopFirstFit()])
    first = trainer.fit(learner, data)
    assert first.stopped_early and first.skipped_steps == 1 and len(first.history) == 1
    second = trainer.fit(learner, data)
    assert not second.stopped_early and second.skipped_steps == 0 and trainer.stop_reason == ""
    assert len(second.history) == 2 and [h["epoch"] for h in second.history] == [1, 2]
    assert second.steps == 2 * first.steps and second.best_epoch in (1, 2)  # 3 steps per epoch, counted from 0 again


def test_only_float16_gets_a_loss_scaler() -> None:
    data = _data()
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu, _learner(data)).grad_scaler() is None
    assert resolve_precision("bf16", cpu, _learner(data)).grad_scaler() is None
    assert isinstance(resolve_precision("fp16", cpu, _learner(data)).grad_scaler(), torch.amp.GradScaler)


def test_the_scaler_drops_an_overflowing_step_and_halves_the_scale() -> None:
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**127)  # the scaled gradients overflow float32
    ctx = StepContext(scaler=scaler)
    step = ctx.step(model(torch.ones(2, 4)).pow(2).sum() + 4.0, opt)
    assert not step.skipped and not torch.isfinite(step.norm)  # the scaler's calibration, not a non-finite step
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert scaler.get_scale() == 2.0**126
    assert torch.isfinite(ctx.step(model(torch.ones(2, 4)).pow(2).sum(), opt).norm)  # a normal step once it fits
    assert scaler.get_scale() == 2.0**126 and any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_gradients_infinite_at_scale_one_are_a_skipped_step() -> None:
    w = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.SGD([w], lr=0.1)
    ctx = StepContext(scaler=torch.amp.GradScaler("cpu", init_scale=1.0))
    assert ctx.step(torch.sqrt(w).sum(), opt).skipped  # a finite loss whose gradient is inf at any scale
    assert torch.equal(w.detach(), torch.zeros(3))


def test_fp16_trains_on_the_cpu_and_a_resume_goes_on_with_the_checkpointed_scale() -> None:
    data = _data()
    cfg = TrainingConfig(epochs=2, batch_size=32, progress="none", precision="fp16", device="cpu")

    class Keep(Callback):
        def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
            if epoch == 0:
                self.state = copy.deepcopy(trainer.checkpoint_state())

    keep = Keep()
    torch.manual_seed(0)
    full = _learner(data)
    result = Trainer(cfg, callbacks=[keep]).fit(full, data)
    assert result.skipped_steps == 0 and torch.isfinite(torch.tensor(result.history[-1]["train/loss"]))
    assert keep.state["scaler"]["scale"] == 2.0**16
    keep.state["scaler"]["scale"] = 2.0**10  # as if epoch 1 had overflowed six times
    seen = _Record()
    torch.manual_seed(0)
    resumed = _learner(data)
    Trainer(cfg, callbacks=[seen]).fit(resumed, data, resume=keep.state)
    assert seen.scale == 2.0**10


def test_the_scaler_unscales_before_clipping() -> None:
    w = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([w], lr=1.0)
    ctx = StepContext(grad_clip=1.0, scaler=torch.amp.GradScaler("cpu", init_scale=2.0**10))
    step = ctx.step(0.1 * w.sum() + 1.0, opt)  # true gradient (0.1, 0.1): under the clip, scaled it would be far over
    assert not step.skipped and float(step.norm) == pytest.approx(0.1 * 2**0.5)
    assert torch.allclose(w.detach(), torch.full((2,), -0.1))
