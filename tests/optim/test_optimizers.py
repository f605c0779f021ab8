"""Optimizers: conformance over the registry, no-decay groups, layer-wise rates, config errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.nn.params import split_decay_params
from deepfeat.optim import OPTIMIZERS, build_optimizer, layerwise_lr_groups


class Tiny(nn.Module):
    """A linear layer, a norm and an embedding: every kind of parameter the grouping must sort."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.fc1 = nn.Linear(4, 8)
        self.norm = nn.LayerNorm(8)
        self.fc2 = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.norm(self.fc1(x))))

    def lr_blocks(self) -> list[tuple[str, nn.Module]]:
        return [("fc1", self.fc1), ("fc2", self.fc2)]


def _regression() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    return x, x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_trains_from_defaults(name: str) -> None:
    model = Tiny()
    opt = build_optimizer(name, model)
    x, y = _regression()
    first = nn.functional.mse_loss(model(x), y).item()
    for _ in range(60):
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.9 * first  # adam at its default 1e-3 moves slowly; no step at all fails
    assert {g["name"] for g in opt.param_groups} == {"decay", "no_decay"}
    assert all(0 < g["lr"] < 1 for g in opt.param_groups)


def test_no_decay_group_holds_exactly_biases_norms_and_embeddings() -> None:
    model = Tiny()
    opt = build_optimizer({"name": "adamw", "weight_decay": 0.05}, model)
    groups = {g["name"]: g for g in opt.param_groups}
    expected = {model.emb.weight, model.fc1.bias, model.norm.weight, model.norm.bias, model.fc2.bias}
    assert {id(p) for p in groups["no_decay"]["params"]} == {id(p) for p in expected}
    assert {id(p) for p in groups["decay"]["params"]} == {id(model.fc1.weight), id(model.fc2.weight)}
    assert groups["no_decay"]["weight_decay"] == 0.0 and groups["decay"]["weight_decay"] == 0.05


def test_frozen_and_tied_parameters() -> None:
    model = Tiny()
    model.fc1.requires_grad_(False)
    model.fc2.weight = model.fc1.weight  # tied: must not appear twice
    decay, no_decay = split_decay_params(model)
    assert all(p.requires_grad for p in decay + no_decay)
    assert len({id(p) for p in decay + no_decay}) == len(decay + no_decay)
    with pytest.raises(ConfigError, match="expected trainable parameters"):
        build_optimizer("sgd", nn.Linear(2, 2).requires_grad_(False))


def test_layerwise_rates_decay_from_the_top() -> None:
    model = Tiny()
    groups = layerwise_lr_groups(model.lr_blocks(), base_lr=1.0, decay=0.5)
    lrs = {g["name"]: g["lr"] for g in groups}
    assert lrs == {"fc2/decay": 1.0, "fc2/no_decay": 1.0, "fc1/decay": 0.5, "fc1/no_decay": 0.5}
    opt = build_optimizer({"name": "sgd", "lr": 0.1, "layer_decay": "0.5"}, model)
    by_name = {g["name"]: g for g in opt.param_groups}
    assert by_name["fc1/decay"]["lr"] == pytest.approx(0.05)
    # The embedding and norm are outside every block: they train at the full rate, without decay.
    assert by_name["rest/no_decay"]["lr"] == pytest.approx(0.1)
    n_params = sum(len(g["params"]) for g in opt.param_groups)
    assert n_params == len(list(model.parameters()))


def test_layer_decay_needs_lr_blocks() -> None:
    with pytest.raises(ConfigError, match="lr_blocks"):
        build_optimizer({"name": "sgd", "layer_decay": 0.5}, nn.Linear(2, 2))


def test_unknown_name_and_key_suggest_the_close_match() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'adamw'"):
        build_optimizer("adamww", Tiny())
    with pytest.raises(ConfigError, match=r"unknown key 'optimizer\.lrr'.*Did you mean 'lr'"):
        build_optimizer({"name": "adam", "lrr": 1e-3}, Tiny())


def test_numeric_strings_are_coerced_and_bad_ones_explained() -> None:
    opt = build_optimizer({"name": "adam", "lr": "1e-3", "betas": ["0.8", 0.99]}, Tiny())
    assert opt.defaults["lr"] == 1e-3 and opt.defaults["betas"] == (0.8, 0.99)
    with pytest.raises(ConfigError, match=r"optimizer\.lr: expected float, got str 'fast'"):
        build_optimizer({"name": "adam", "lr": "fast"}, Tiny())


def test_built_optimizer_passes_through() -> None:
    opt = torch.optim.SGD(Tiny().parameters(), lr=0.1)
    assert build_optimizer(opt, Tiny()) is opt
