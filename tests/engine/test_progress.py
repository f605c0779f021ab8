"""The console while training: throughput, an ETA for the whole run, the latest loss, read only on redraw."""

from __future__ import annotations

import io
import time
from types import SimpleNamespace

import pytest
import torch

from deepfeat.engine.progress import Progress, clock


def _trainer(samples: int = 1000, batch: int = 64, epochs: int = 3) -> SimpleNamespace:
    steps = -(-samples // batch)
    return SimpleNamespace(cfg=SimpleNamespace(batch_size=batch, epochs=epochs), planned_epochs=epochs,
                           steps_per_epoch=steps, data=SimpleNamespace(train=range(samples)),
                           dist=SimpleNamespace(world_size=1))


class _Loss:
    """A loss whose reads are counted: reading a GPU tensor waits for the step, so it must be rare."""

    def __init__(self, value: float) -> None:
        self.value, self.reads = value, 0

    def __float__(self) -> float:
        self.reads += 1
        return self.value


def test_the_bar_shows_samples_per_second_the_latest_loss_and_the_run_eta() -> None:
    trainer, p = _trainer(), Progress("bar", io.StringIO())
    p.on_epoch_start(trainer, 0)
    for i in range(5):
        time.sleep(0.01)
        p.on_step_end(trainer, {"loss": torch.tensor(0.5 - 0.1 * i)})
    text = str(p.bar)
    assert text.startswith("epoch 1/3") and "320/1000" in text
    assert "samples/s" in text and "loss 0.1000" in text and "ETA " in text  # the loss of the last step, not of step 0
    p.on_epoch_end(trainer, 0, {"time_s": 0.1})
    assert p.bar is None


def test_the_loss_is_read_when_the_bar_redraws_not_at_every_step() -> None:
    trainer, p = _trainer(samples=64 * 5000), Progress("bar", io.StringIO())
    p.on_epoch_start(trainer, 0)
    loss = _Loss(0.25)
    for _ in range(5000):
        p.on_step_end(trainer, {"loss": loss})
    assert loss.reads < 100  # tqdm redraws at most every 0.1 s; 5000 steps take far less than 10 s here
    assert "loss 0.2500" in str(p.bar)


def test_the_run_eta_counts_this_epoch_its_validation_and_the_epochs_left() -> None:
    trainer, p = _trainer(samples=1000, epochs=5), Progress("bar", io.StringIO())
    p.on_epoch_start(trainer, 2)  # epochs 4 and 5 are left after this one
    p.epoch_s, p.extra_s = [12.0, 10.0, 11.0], [1.0, 1.0, 1.0]  # wall times of earlier epochs, validation included
    assert p.eta(done=500, rate=100.0) == pytest.approx(500 / 100 + 1.0 + 2 * 11.0)
    p.epoch_s = p.extra_s = []  # the first epoch: its own rate stands in for the epochs to come
    assert p.eta(done=0, rate=100.0) == pytest.approx(10.0 + 2 * 10.0)
    p.on_epoch_end(trainer, 2, {})


def test_lines_without_a_terminal_give_throughput_and_eta_until_the_last_epoch() -> None:
    trainer, stream = _trainer(epochs=2), io.StringIO()
    p = Progress("auto", stream)
    for epoch in range(2):
        p.on_epoch_start(trainer, epoch)
        for _ in range(trainer.steps_per_epoch):
            p.on_step_end(trainer, {"loss": torch.tensor(1.0)})
        p.on_epoch_end(trainer, epoch, {"train/loss": 1.0, "time_s": 0.5})
    first, last = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert first.startswith("epoch 1/2  train/loss 1.0000  (0.5s, ") and "samples/s, ETA 0:0" in first
    assert "samples/s)" in last and "ETA" not in last


def test_clock() -> None:
    assert [clock(s) for s in (7, 754, 3723)] == ["0:07", "12:34", "1:02:03"]
