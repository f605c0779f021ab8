"""The 1-D convolutional decoder mirroring the convolutional series encoders."""

from __future__ import annotations

import pytest
import torch

from deepfeat.nn import build_encoder
from deepfeat.nn.conv1d_decoder import Conv1dDecoder, upsampled_lengths
from deepfeat.nn.decoders import build_decoder


@pytest.mark.parametrize("name", ["fcn", "resnet1d", "inception"])
@pytest.mark.parametrize("shape", [(1, 64), (3, 23), (2, 1)])
def test_conv_series_encoders_get_a_conv_decoder_of_the_input_shape(name: str, shape: tuple[int, int]) -> None:
    decoder = build_decoder(build_encoder({"name": name}, shape), code_dim=8)
    assert isinstance(decoder, Conv1dDecoder)
    assert decoder(torch.randn(4, 8)).shape == (4, *shape)


def test_lengths_halve_from_the_series_length() -> None:
    assert upsampled_lengths(64, 2) == [16, 32, 64] and upsampled_lengths(23, 2) == [6, 12, 23]


def test_it_learns_to_decode_shifted_sines() -> None:
    """Codes that identify the phase: the decoder must place the wave in time, which it does far below the
    variance of the targets (a decoder ignoring its code stays at the variance of the mean, about 0.5)."""
    torch.manual_seed(0)
    t = torch.arange(48, dtype=torch.float32)
    phase = torch.rand(64) * 6.28
    x = torch.sin(t / 4 + phase[:, None]).unsqueeze(1)  # (64, 1, 48)
    z = torch.stack([phase.sin(), phase.cos()], 1)
    decoder = Conv1dDecoder(2, (1, 48), (16, 16))
    opt = torch.optim.Adam(decoder.parameters(), lr=1e-2)
    for _ in range(60):
        loss = (decoder(z) - x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    decoder.eval()
    assert (decoder(z) - x).pow(2).mean().item() < 0.05
