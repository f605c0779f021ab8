"""One optimisation step: a non-finite loss is dropped on the device by fused optimizers, on the host by the others."""

from __future__ import annotations

import copy

import pytest
import torch

from deepfeat.optim.optimizers import build_optimizer
from deepfeat.optim.step import apply_gradients


def _nan_step(name: str) -> tuple[torch.nn.Module, torch.optim.Optimizer, dict]:
    model = torch.nn.Linear(4, 2)
    opt = build_optimizer({"name": name, "lr": 0.1}, model)
    apply_gradients(model(torch.ones(3, 4)).sum(), opt)  # a first good step: the optimizer has state to keep
    return model, opt, copy.deepcopy(opt.state_dict())


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "adagrad", "rmsprop"])
def test_a_nan_loss_leaves_weights_and_optimizer_state_as_they_were(name: str, monkeypatch) -> None:
    model, opt, state = _nan_step(name)
    weights = [p.detach().clone() for p in model.parameters()]
    fused = getattr(opt, "_step_supports_amp_scaling", False)
    reads: list[str] = []
    if fused:  # the decision stays on the device: no value is read back
        monkeypatch.setattr(torch.Tensor, "tolist", lambda self: reads.append("tolist"))
        monkeypatch.setattr(torch.Tensor, "item", lambda self: reads.append("item"))
    step = apply_gradients(model(torch.ones(3, 4)).sum() * float("nan"), opt)
    monkeypatch.undo()
    assert float(step.skipped) == 1.0 and reads == []
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))
    after = opt.state_dict()["state"]
    assert all(torch.equal(torch.as_tensor(v), torch.as_tensor(after[i][k]))
               for i, s in state["state"].items() for k, v in s.items())
    assert float(apply_gradients(model(torch.ones(3, 4)).sum(), opt).skipped) == 0.0  # and the next step is taken
    assert not all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))
