"""Encoders supply their own mirror decoder; an encoder without one gets the MLP decoder."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from deepfeat.nn import build_encoder
from deepfeat.nn.decoders import DECODERS, MLPDecoder, build_decoder
from deepfeat.nn.encoder import Encoder


@pytest.mark.parametrize(("spec", "shape", "named"), [
    ({"name": "mlp", "hidden": [16, 8]}, (1, 8, 8), "mlp"),
    ({"name": "cnn", "channels": [8, 16]}, (1, 8, 8), "cnn"),
    ({"name": "lstm", "hidden_size": 8, "num_layers": 2}, (2, 12), "rnn"),
    ({"name": "tcn", "channels": [8, 4]}, (2, 12), "tcn"),
    ({"name": "fcn"}, (2, 12), "mlp"),  # no mirror of its own
])
def test_an_encoders_mirror_is_the_decoder_of_its_name_layer_for_layer(spec: dict[str, Any], shape: tuple[int, ...],
                                                                       named: str) -> None:
    encoder = build_encoder(spec, shape)
    torch.manual_seed(0)
    mirror = build_decoder(encoder, 4)
    torch.manual_seed(0)
    by_name = DECODERS.get(named)(encoder, 4)
    a, b = mirror.state_dict(), by_name.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # same layers, same seeded init
    assert type(mirror) is type(by_name) and mirror(torch.randn(3, 4)).shape == (3, *shape)


def test_an_mlp_mirror_reverses_the_widths_and_others_get_the_default_widths() -> None:
    mlp = build_decoder(build_encoder({"name": "mlp", "hidden": [16, 8]}, (1, 8, 8)), 4)
    fcn = build_decoder(build_encoder({"name": "fcn"}, (2, 12)), 4)
    widths = [[m.out_features for m in d.modules() if isinstance(m, nn.Linear)] for d in (mlp, fcn)]
    assert isinstance(fcn, MLPDecoder) and widths == [[8, 16, 64], [128, 256, 24]]


class _Halves(Encoder):
    """An encoder of the user's own, with its own mirror."""

    name = "halves"

    def __init__(self, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self._setup(input_shape, "(F)")
        self.feature_dim = input_shape[0] // 2
        self.net = nn.Linear(input_shape[0], self.feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def mirror_decoder(self, code_dim: int) -> nn.Module:
        return nn.Linear(code_dim, self.input_shape[0])


def test_an_encoder_of_ones_own_decodes_with_its_own_mirror() -> None:
    decoder = build_decoder(_Halves((10,)), 3)
    assert isinstance(decoder, nn.Linear) and decoder.out_features == 10
