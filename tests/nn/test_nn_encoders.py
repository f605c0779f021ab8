"""Encoders: conformance over every registered name, shape checks, and architecture oracles."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from deepfeat.errors import ConfigError, DataError
from deepfeat.nn import ENCODERS, LinearHead, ProjectionHead, build_encoder

VECTOR, IMAGES, SEQUENCE = [(20,)], [(1, 8, 8), (3, 16, 16)], [(3, 24)]
# Every registered encoder must appear here (checked below), so a new one is tested the day it lands.
INPUTS = {
    "mlp": VECTOR + IMAGES,
    "cnn": IMAGES,
    "resnet": IMAGES,
    "dcgan_disc": IMAGES,
    "rnn": SEQUENCE,
    "lstm": SEQUENCE,
    "gru": SEQUENCE,
    "tcn": SEQUENCE,
    "inception": SEQUENCE + [(1, 24)],  # a single channel skips the bottleneck
    "fcn": SEQUENCE,
    "resnet1d": SEQUENCE,
    # Waveforms (1, T): a front-end (log-mel, MFCC) inside the encoder, then a backbone.
    "audio": [(1, 1600)],
    "audio_cnn": [(1, 1600)],
    "audio_tcn": [(1, 1600)],
    "audio_gru": [(1, 1600)],
    "wave_cnn": [(1, 1600), (2, 400)],
}
# Token encoders take int64 ids, not random floats: their conformance test is in test_nn_text.py.
TOKEN_ENCODERS = {"text_rnn", "text_tcn", "pretrained_text"}
# `backbone` wraps a pretrained network given by `source`: tested in tests/learners/test_transfer.py;
# `python` stands for a user's module passed as a Python object: tested in tests/run/test_your_own.py.
ELSEWHERE = TOKEN_ENCODERS | {"backbone", "python"}
CASES = [(name, shape) for name in ENCODERS.names() if name not in ELSEWHERE for shape in INPUTS.get(name, [()])]


def test_every_encoder_has_test_inputs() -> None:
    assert sorted(INPUTS) == sorted(set(ENCODERS.names()) - ELSEWHERE)


@pytest.mark.parametrize("name, shape", CASES)
def test_encoder_conformance(name: str, shape: tuple[int, ...]) -> None:
    encoder = build_encoder(name, shape)
    x = torch.randn(4, *shape)
    z = encoder(x)
    assert z.shape == (4, encoder.feature_dim) and torch.isfinite(z).all()
    z.square().mean().backward()
    for pname, param in encoder.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), pname

    rebuilt = build_encoder(json.loads(json.dumps(encoder.config)), encoder.input_shape)
    shapes = {k: v.shape for k, v in encoder.state_dict().items()}
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == shapes
    assert rebuilt.feature_dim == encoder.feature_dim

    with pytest.raises(DataError, match=r"expected shape \(B, "):
        encoder(torch.randn(4, *shape, 2))


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'cnn'"):
        build_encoder("cnnn", (1, 8, 8))
    with pytest.raises(ConfigError, match="Did you mean 'channels'"):
        build_encoder({"name": "cnn", "chanels": [8]}, (1, 8, 8))
    with pytest.raises(ConfigError, match=r"expected \(C, H, W\), got \(20,\)"):
        build_encoder("cnn", (20,))
    with pytest.raises(ConfigError, match="Did you mean 'mean'"):
        build_encoder({"name": "tcn", "pooling": "maen"}, (3, 24))
    with pytest.raises(ConfigError, match="dropout"):
        build_encoder({"name": "mlp", "dropout": 1.5}, (20,))


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (2, 5, 3)])
def test_cnn_pools_down_to_one_pixel_without_crashing(shape: tuple[int, ...]) -> None:
    spec = {"name": "cnn", "channels": [4] * 6, "norm": "none", "global_pool": "flatten"}
    encoder = build_encoder(spec, shape)
    assert encoder(torch.randn(2, *shape)).shape == (2, 4)  # 1x1 map left after flattening


def test_cnn_order_pools_right_after_each_stages_first_conv() -> None:
    spec = {"name": "cnn", "channels": [4, 8], "blocks_per_stage": 2, "global_pool": "flatten"}
    late = build_encoder(spec, (1, 12, 12))
    early = build_encoder({**spec, "order": "conv-pool-norm-act"}, (1, 12, 12))
    kinds = [type(m).__name__ for m in early.features]
    assert kinds == ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU"] * 2
    assert [type(m).__name__ for m in late.features][:9] == ["Conv2d", "BatchNorm2d", "ReLU"] * 2 + ["MaxPool2d", "Conv2d", "BatchNorm2d"]
    # same maps out (8 x 3 x 3); the stage's second conv runs on the pooled map
    assert early.feature_dim == late.feature_dim == 72 and early(torch.randn(2, 1, 12, 12)).shape == (2, 72)
    assert sum(p.numel() for p in early.parameters()) == sum(p.numel() for p in late.parameters())  # pooling moved only
    with pytest.raises(ConfigError, match="cnn order"):
        build_encoder({"name": "cnn", "order": "pool-first"}, (1, 8, 8))
    with pytest.raises(ConfigError, match="residual blocks pool after the stage"):
        build_encoder({"name": "resnet", "order": "conv-pool-norm-act"}, (1, 8, 8))


def test_cnn_bias_only_without_batch_norm_and_residual_projection() -> None:
    convs = [m for m in build_encoder("cnn", (1, 8, 8)).modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(c.bias is None for c in convs)
    convs = [m for m in build_encoder({"name": "cnn", "norm": "group"}, (1, 8, 8)).modules() if isinstance(m, nn.Conv2d)]
    assert all(c.bias is not None for c in convs)
    resnet = build_encoder({"name": "resnet", "stride": 2, "pool": "none"}, (3, 16, 16))
    assert sum(isinstance(b.shortcut, nn.Sequential) for b in resnet.features) == 3  # one per stage
    assert resnet(torch.randn(2, 3, 16, 16)).shape == (2, 128)


def test_mlp_flattens_and_drops_bias_before_batch_norm() -> None:
    encoder = build_encoder({"name": "mlp", "hidden": [16, 8], "norm": "batch", "dropout": 0.1}, (1, 8, 8))
    linears = [m for m in encoder.modules() if isinstance(m, nn.Linear)]
    assert [m.in_features for m in linears] == [64, 16] and all(m.bias is None for m in linears)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bidirectional_last_is_final_state_of_each_direction(cell: str) -> None:
    encoder = build_encoder({"name": cell, "hidden_size": 5, "num_layers": 2, "bidirectional": True}, (3, 11))
    x = torch.randn(2, 3, 11)
    _, state = encoder.rnn(x.transpose(1, 2))
    h_n = state[0] if cell == "lstm" else state
    assert torch.allclose(encoder(x), torch.cat([h_n[-2], h_n[-1]], dim=1), atol=1e-6)
    mean = build_encoder({"name": cell, "hidden_size": 5, "pooling": "mean"}, (3, 11))
    assert torch.allclose(mean(x), mean.rnn(x.transpose(1, 2))[0].mean(1))


@pytest.mark.parametrize("norm", ["none", "weight", "layer", "batch"])
def test_tcn_is_causal_with_the_stated_receptive_field(norm: str) -> None:
    encoder = build_encoder({"name": "tcn", "channels": [6, 6, 6], "norm": norm}, (2, 40)).eval()
    assert encoder.receptive_field == 29
    x = torch.randn(1, 2, 40)
    h = encoder.blocks(x)
    future = x.clone()
    future[..., 25:] += 5.0
    assert torch.allclose(encoder.blocks(future)[..., :25], h[..., :25], atol=1e-6)
    far, near = x.clone(), x.clone()
    far[..., 40 - 29 - 1] += 5.0  # just outside the last step's receptive field
    near[..., 40 - 29] += 5.0  # its oldest input
    assert torch.allclose(encoder.blocks(far)[..., -1], h[..., -1], atol=1e-6)
    assert not torch.allclose(encoder.blocks(near)[..., -1], h[..., -1], atol=1e-6)


def test_heads() -> None:
    z = torch.randn(4, 16)
    assert LinearHead(16, 3)(z).shape == (4, 3)
    head = ProjectionHead(16, hidden=32, out_dim=8)
    assert head(z).shape == (4, 8)
    assert isinstance(head.mlp.net[1], nn.BatchNorm1d) and head.mlp.net[0].bias is None


def test_cnn_given_a_series_points_to_the_series_encoders() -> None:
    with pytest.raises(ConfigError, match=r"expected \(C, H, W\), got \(1, 150\).*series \(C, T\): inception, fcn, resnet1d"):
        build_encoder("cnn", (1, 150))
