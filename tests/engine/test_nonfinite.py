"""Non-finite steps are dropped on the device and read by the host only now and then: no read per step."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

import deepfeat.engine.trainer as trainer_module
from deepfeat.data.bundle import from_arrays
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import TrainingError
from deepfeat.learners.build import build_learner

# Every way a tensor's value reaches the host (each one waits for a GPU to finish what it queued).
READS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")


def _data(n: int):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 6, generator=g)
    return from_arrays(x.numpy(), (x[:, 0] > 0).long().numpy(), kind="vector", val_fraction=0.0, test_fraction=0.0)


def _reads_during_fit(monkeypatch: pytest.MonkeyPatch, n: int, nan_every: int = 0) -> tuple[int, Counter[str]]:
    """Host reads of tensor values during a one-epoch fit on ``n`` samples in batches of 8 (steps: n / 8)."""
    data = _data(n)
    learner = build_learner("classifier", data.info, {"name": "mlp", "hidden": [8]})
    original, calls = learner.training_step, {"n": 0}

    def step(batch):  # type: ignore[no-untyped-def]
        out = original(batch)
        calls["n"] += 1
        if nan_every and calls["n"] % nan_every == 0:
            out["loss"] = out["loss"] * float("nan")
        return out

    learner.training_step = step  # type: ignore[method-assign]
    reads: Counter[str] = Counter()
    for name in READS:
        method = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, *a, _m=method, _n=name, **k: (reads.update([_n]), _m(self, *a, **k))[1])
    result = Trainer(TrainingConfig(epochs=1, batch_size=8, progress="none")).fit(learner, data, optimizer="adam")
    monkeypatch.undo()
    return result.skipped_steps, reads


def test_a_fit_reads_the_device_a_fixed_number_of_times_whatever_its_steps(monkeypatch) -> None:
    _, short = _reads_during_fit(monkeypatch, 32)  # 4 steps
    _, long = _reads_during_fit(monkeypatch, 256)  # 32 steps
    assert long == short, (short, long)  # per epoch, not per step (the old check read the loss at every step)
    skipped, with_nan = _reads_during_fit(monkeypatch, 256, nan_every=4)
    assert skipped == 8 and with_nan == long  # dropped steps are counted all the same


def test_a_divergence_stops_at_the_next_read_naming_its_step(monkeypatch) -> None:
    monkeypatch.setattr(trainer_module, "READ_EVERY", 5)
    data = _data(320)  # 40 steps in the epoch
    learner = build_learner("classifier", data.info, {"name": "mlp", "hidden": [8]})
    original, calls = learner.training_step, {"n": 0}

    def diverging(batch):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        out = original(batch)
        out["loss"] = out["loss"] * (float("nan") if calls["n"] > 1 else 1.0)
        return out

    learner.training_step = diverging  # type: ignore[method-assign]
    trainer = Trainer(TrainingConfig(epochs=1, batch_size=8, max_nonfinite=3, progress="none"))
    with pytest.raises(TrainingError, match=r"epoch 1, step 4: 3 non-finite losses in a row \(lr 0.001\)"):
        trainer.fit(learner, data)
    assert calls["n"] == 5 and trainer.skipped_steps == 3 and trainer.global_step == 4  # stopped at the first read
    assert all(torch.isfinite(p).all() for p in learner.parameters())  # the dropped steps never reached the weights
