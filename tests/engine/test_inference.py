"""The one inference loop: mode restored even after an exception, a sample limit, sample-weighted means over an
uneven last batch, autocast from the precision; and its users (Run.apply, a GAN's sampling) keep those promises."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deepfeat.data.bundle import from_arrays
from deepfeat.data.splits import TensorSplit
from deepfeat.engine.device import resolve_precision
from deepfeat.engine.inference import evaluate_split, one_pass
from deepfeat.learners.build import build_learner
from deepfeat.learners.inference import run_batches
from deepfeat.run.runs import Run


def _data(n: int = 70):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 6, generator=g)
    return from_arrays(x.numpy(), (x[:, 0] > 0).long().numpy(), kind="vector", val_fraction=0.0, test_fraction=0.0)


def _learner(data):
    return build_learner("classifier", data.info, {"name": "mlp", "hidden": [8], "dropout": 0.5})


def _boom(*_: object, **__: object) -> torch.Tensor:
    raise RuntimeError("boom")


def test_train_mode_comes_back_after_an_exception_in_the_loop() -> None:
    data = _data()
    learner = _learner(data).train()
    with pytest.raises(RuntimeError, match="boom"):
        list(run_batches(learner, data.train.batches(32), _boom))
    assert learner.training and all(m.training for m in learner.modules())
    learner.eval()
    assert len(list(run_batches(learner, data.train.batches(32), lambda b: b[0]))) == 3 and not learner.training


def test_run_apply_leaves_a_training_learner_training_even_when_it_fails() -> None:
    data = _data()
    learner = _learner(data).train()
    run = Run(Path("run"), None, data.info, learner)  # type: ignore[arg-type]
    assert run.apply(learner.embed, data.train.x[:5]).shape == (5, learner.feature_dim) and learner.training
    with pytest.raises(RuntimeError, match="boom"):
        run.apply(_boom, data.train.x[:5])
    assert learner.training


def test_gan_sampling_restores_train_mode_when_the_generator_fails(monkeypatch) -> None:
    x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    info = from_arrays(x.numpy(), None, kind="image", val_fraction=0.0, test_fraction=0.0).info
    gan = build_learner("dcgan", info, {"name": "cnn", "channels": [8], "norm": "layer"}).train()
    assert gan.sample(3, seed=0).shape == (3, 1, 8, 8) and gan.training
    monkeypatch.setattr(gan, "generate", _boom)
    with pytest.raises(RuntimeError, match="boom"):
        gan.sample(3, seed=0)
    assert gan.training


def test_limit_cuts_the_last_batch_and_stops_reading() -> None:
    data = _data(100)
    calls: list[int] = []
    out = [(n, y) for _, y, n in run_batches(_learner(data), data.train.batches(32),
                                             lambda b: calls.append(b[0].shape[0]), limit=70)]
    assert calls == [32, 32, 6] and [n for n, _ in out] == [32, 32, 6]
    assert torch.equal(torch.cat([y for _, y in out]), data.train.y[:70])


def test_means_weight_each_batch_by_its_samples_when_the_last_is_short() -> None:
    data = _data(70)  # batches of 32, 32, 6: the mean of the batch means would be far off
    learner = _learner(data)
    learner.validation_step = lambda batch: {"x0": batch[0][:, 0].mean()}  # type: ignore[method-assign]
    precision = resolve_precision("fp32", torch.device("cpu"), learner)
    got = evaluate_split(learner, data.train, "val", precision, batch_size=32)["val/x0"]
    assert got == pytest.approx(float(data.train.x[:, 0].mean()), abs=1e-6)
    learner.inference = lambda batch, names: {"metrics": learner.validation_step(batch)}  # type: ignore[method-assign]
    _, _, metrics = one_pass(learner, data.train, precision, frozenset({"metrics"}), batch_size=32, limit=10)
    assert metrics["test/x0"] == pytest.approx(got, abs=1e-6)  # metrics cover the whole split whatever the limit


def test_bf16_precision_runs_the_learner_under_cpu_autocast() -> None:
    data = _data(40)
    learner = _learner(data)
    seen: list[tuple[bool, torch.dtype]] = []

    def step(batch):  # type: ignore[no-untyped-def]
        seen.append((torch.is_autocast_enabled("cpu"), learner.head(learner.embed(batch[0])).dtype))
        return {"loss": torch.zeros(())}

    learner.validation_step = step  # type: ignore[method-assign]
    evaluate_split(learner, data.train, "val", resolve_precision("bf16", torch.device("cpu"), learner), batch_size=32)
    assert seen == [(True, torch.bfloat16)] * 2
    evaluate_split(learner, TensorSplit(data.train.x), "val", resolve_precision("fp32", torch.device("cpu"), learner))
    assert seen[-1] == (False, torch.float32)
