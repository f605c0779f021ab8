"""The training loop: non-finite handling, early stopping, progress output, precision choice."""

from __future__ import annotations

import io
import math

import pytest
import torch

from deepfeat.data.bundle import from_arrays
from deepfeat.engine.device import resolve_precision
from deepfeat.engine.progress import Progress
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import ConfigError, TrainingError
from deepfeat.learners.build import build_learner


def _bundle(n: int = 256, nan_every: int = 0):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 10, generator=g)
    y = (x[:, 0] > 0).long()
    return from_arrays(x.numpy(), y.numpy(), kind="vector", val_fraction=0.1)  # explicit: 26 samples, under the auto minimum


def test_repeated_nonfinite_losses_stop_with_a_message_naming_epoch_step_and_lr() -> None:
    data = _bundle()
    learner = build_learner("classifier", data.info, {"name": "mlp", "hidden": [8]})
    with torch.no_grad():
        learner.head[1].weight.fill_(float("nan"))
    trainer = Trainer(TrainingConfig(epochs=2, batch_size=32, max_nonfinite=3, progress="none"))
    with pytest.raises(TrainingError, match=r"epoch 1, step 3: 3 non-finite losses in a row \(lr 0.001\)"):
        trainer.fit(learner, data)
    assert trainer.skipped_steps == 3


def test_isolated_nonfinite_steps_are_skipped_and_counted() -> None:
    data = _bundle()
    learner = build_learner("classifier", data.info, {"name": "mlp", "hidden": [8]})
    calls = {"n": 0}
    original = learner.training_step

    def flaky(batch):  # type: ignore[no-untyped-def]
        out = original(batch)
        calls["n"] += 1
        if calls["n"] % 4 == 0:
            out["loss"] = out["loss"] * float("inf")
        return out

    learner.training_step = flaky  # type: ignore[method-assign]
    before = [p.detach().clone() for p in learner.parameters()]
    result = Trainer(TrainingConfig(epochs=2, batch_size=32, progress="none")).fit(learner, data)
    assert result.steps >= 8 and result.skipped_steps == result.steps // 4  # every 4th step non-finite
    assert all(torch.isfinite(p).all() for p in learner.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, learner.parameters()))


def test_early_stopping_stops_and_restores_the_best_epoch() -> None:
    from deepfeat.engine.callbacks import EarlyStopping

    data = _bundle()
    learner = build_learner("classifier", data.info, {"name": "mlp", "hidden": [64]})
    cfg = TrainingConfig(epochs=50, batch_size=16, progress="none", monitor="val/loss", patience=2)
    trainer = Trainer(cfg, callbacks=[EarlyStopping("val/loss", patience=2)])
    result = trainer.fit(learner, data, optimizer={"name": "sgd", "lr": 0.5})
    assert result.stopped_early and result.epochs < 50
    assert result.best_epoch == min(range(len(result.history)), key=lambda i: result.history[i]["val/loss"]) + 1


def test_progress_writes_one_line_per_epoch_without_carriage_returns() -> None:
    data = _bundle()
    learner = build_learner("classifier", data.info, "mlp")
    stream = io.StringIO()
    Trainer(TrainingConfig(epochs=3, batch_size=32), callbacks=[Progress("auto", stream)]).fit(learner, data)
    text = stream.getvalue()
    assert "\r" not in text
    banner, lines = text.strip().splitlines()[:2], text.strip().splitlines()[2:]
    assert banner[0].startswith("training on cpu") and banner[1].endswith("· data in the training process")
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3") and "val/acc" in lines[0]


def test_precision_auto_uses_bf16_only_for_conv_nets_on_fast_cpus() -> None:
    from deepfeat.engine.device import cpu_has_fast_bf16

    info_img = from_arrays(torch.rand(8, 1, 8, 8).numpy(), (torch.arange(8) % 2).numpy(), kind="image").info
    cnn = build_learner("classifier", info_img, "cnn")
    mlp = build_learner("classifier", info_img, "mlp")
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu, mlp).dtype is None
    assert resolve_precision("auto", cpu, cnn).dtype is (torch.bfloat16 if cpu_has_fast_bf16() else None)
    # channels_last: every conv net on the CPU (oneDNN's fp32 convolutions are faster in it too), never an MLP
    assert resolve_precision("auto", cpu, cnn).channels_last is True
    assert resolve_precision("fp32", cpu, cnn).channels_last is True
    assert resolve_precision("fp32", cpu, cnn, channels_last=False).channels_last is False
    assert resolve_precision("auto", cpu, mlp).channels_last is False


class _ViewNet(torch.nn.Module):
    """A hand-written net as users write them: ``view`` after a convolution, which channels_last breaks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).view(x.shape[0], -1)


def test_a_module_that_cannot_take_channels_last_trains_in_the_default_format() -> None:
    data = from_arrays(torch.rand(64, 1, 8, 8).numpy(), (torch.arange(64) % 2).numpy(), kind="image")
    learner = build_learner("classifier", data.info, _ViewNet())
    assert learner.encoder.module.conv.weight.stride() == (9, 9, 3, 1)  # the check's dry run put the weights back
    assert resolve_precision("auto", torch.device("cpu"), learner).channels_last is False
    result = Trainer(TrainingConfig(epochs=1, batch_size=16, progress="none")).fit(learner, data)
    assert result.epochs == 1 and math.isfinite(result.history[-1]["train/loss"])
    # the same net with reshape takes it
    learner = build_learner("classifier", data.info, torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Flatten()))
    assert resolve_precision("auto", torch.device("cpu"), learner).channels_last is True


def test_max_steps_ends_the_run_mid_epoch_and_the_schedule_spans_the_steps_taken() -> None:
    data = _bundle()  # 256 samples, 10% validation: 8 batches of 32 per epoch
    learner = build_learner("classifier", data.info, {"name": "mlp", "hidden": [8]})
    trainer = Trainer(TrainingConfig(epochs=10, batch_size=32, max_steps=11, progress="none"))
    result = trainer.fit(learner, data, optimizer={"name": "sgd", "lr": 0.1}, schedule={"name": "one_cycle"})
    assert result.steps == 11 and result.epochs == 2 and len(result.history) == 2
    assert "val/loss" in result.history[-1]  # the cut epoch still validates
    assert trainer.planned_epochs == 2 and result.history[-1]["lr"] < 0.1 / 25  # one-cycle annealed over 2 epochs


@pytest.mark.parametrize("bad", [0, -3])
def test_max_steps_below_one_is_one_config_error(bad: int) -> None:
    with pytest.raises(ConfigError, match=r"training.max_steps: expected an integer >= 1 or null"):
        TrainingConfig(max_steps=bad)


def test_the_banner_says_how_many_worker_processes_load_a_streamed_split() -> None:
    from torch.utils.data import TensorDataset

    from deepfeat.data import DataBundle, StreamSplit

    data = _bundle()
    streamed = DataBundle(data.info, StreamSplit(TensorDataset(data.train.x, data.train.y), num_workers=2))
    stream = io.StringIO()
    learner = build_learner("classifier", data.info, "mlp")
    Trainer(TrainingConfig(epochs=1, batch_size=32), callbacks=[Progress("line", stream)]).fit(learner, streamed)
    assert stream.getvalue().splitlines()[1].endswith("· data loaded by 2 workers")
