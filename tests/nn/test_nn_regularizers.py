"""Regularizers and decay groups: weights only, never biases, norm parameters or embeddings."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from deepfeat.errors import ConfigError
from deepfeat.nn import REGULARIZERS, decay_parameter_names, get_regularizer, split_decay_params


def _tiny() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():  # non-trivial BN parameters, so including them would change the sums
        model[1].weight.uniform_(2.0, 3.0)
        model[1].bias.uniform_(2.0, 3.0)
    return model


@pytest.mark.parametrize("name", REGULARIZERS.names())
def test_every_regularizer_penalizes_weights_only(name: str) -> None:
    penalty = get_regularizer(name)
    if penalty is None:
        assert name == "none"
        return
    model = _tiny()
    value = penalty(model)
    assert value.dim() == 0 and torch.isfinite(value) and value > 0
    value.backward()
    assert model[0].weight.grad is not None and model[3].weight.grad is not None
    assert all(p.grad is None for p in (model[0].bias, model[1].weight, model[1].bias, model[3].bias))


def test_penalties_equal_independent_sums() -> None:
    model = _tiny()
    w1, w2 = model[0].weight.detach(), model[3].weight.detach()
    l1 = w1.abs().sum() + w2.abs().sum()
    l2 = (w1**2).sum() + (w2**2).sum()
    assert get_regularizer({"name": "l1", "strength": 0.3})(model).item() == pytest.approx(0.3 * l1.item(), rel=1e-6)
    assert get_regularizer({"name": "l2", "strength": 0.3})(model).item() == pytest.approx(0.3 * l2.item(), rel=1e-6)
    both = get_regularizer({"name": "l1_l2", "l1": 0.1, "l2": 0.2})(model).item()
    assert both == pytest.approx(0.1 * l1.item() + 0.2 * l2.item(), rel=1e-6)
    assert get_regularizer(None) is None


def test_weight_norm_penalizes_effective_kernel() -> None:
    conv = weight_norm(nn.Conv1d(2, 3, 3))
    with torch.no_grad():
        conv.parametrizations.weight.original0.mul_(2.0)  # effective kernel != stored direction
    expected = (conv.weight.detach() ** 2).sum().item()
    assert get_regularizer({"name": "l2", "strength": 1.0})(conv).item() == pytest.approx(expected, rel=1e-5)


def test_split_decay_params() -> None:
    model = nn.ModuleDict(
        {
            "emb": nn.Embedding(10, 4),
            "fc": nn.Linear(4, 4),
            "ln": nn.LayerNorm(4),
            "conv": nn.Conv2d(1, 2, 3),
            "gn": nn.GroupNorm(1, 2),
            "gru": nn.GRU(4, 3),
            "wn": weight_norm(nn.Conv1d(2, 2, 3)),
        }
    )
    expected = {
        "fc.weight", "conv.weight", "gru.weight_ih_l0", "gru.weight_hh_l0", "wn.parametrizations.weight.original1",
    }
    assert decay_parameter_names(model) == expected
    decay, no_decay = split_decay_params(model)
    named = dict(model.named_parameters())
    assert {id(p) for p in decay} == {id(named[n]) for n in expected}
    assert len(decay) + len(no_decay) == len(named)
    assert {id(p) for p in decay}.isdisjoint(id(p) for p in no_decay)


def test_errors() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'l1_l2'"):
        get_regularizer("l1l2")
    with pytest.raises(ConfigError, match=">= 0"):
        get_regularizer({"name": "l2", "strength": -1.0})
    with pytest.raises(ConfigError, match="Did you mean 'strength'"):
        get_regularizer({"name": "l2", "strenght": 1.0})
