"""The 1-D convolutional decoder mirroring the convolutional series encoders."""

from __future__ import annotations

import pytest
import torch

from deepfeat.errors import ConfigError
from deepfeat.nn import build_encoder
from deepfeat.nn.conv1d_decoder import Conv1dDecoder, upsampled_lengths
from deepfeat.nn.decoders import build_decoder


@pytest.mark.parametrize("name", ["fcn", "resnet1d", "inception", "tcn"])
@pytest.mark.parametrize("shape", [(1, 64), (3, 23), (2, 1)])
def test_series_encoders_take_the_conv1d_decoder_by_name(name: str, shape: tuple[int, int]) -> None:
    encoder = build_encoder({"name": name}, shape)
    decoder = build_decoder(encoder, code_dim=8, decoder="conv1d")
    assert isinstance(decoder, Conv1dDecoder) and not isinstance(build_decoder(encoder, 8), Conv1dDecoder)
    assert decoder(torch.randn(4, 8)).shape == (4, *shape)


def test_a_decoder_that_cannot_decode_the_encoder_says_so() -> None:
    with pytest.raises(ConfigError, match="expected series \\(C, T\\), got samples of shape \\(1, 8, 8\\)"):
        build_decoder(build_encoder({"name": "cnn"}, (1, 8, 8)), 8, "conv1d")
    with pytest.raises(ConfigError, match="decoder 'rnn' at learner.decoder: expected an encoder it can decode"):
        build_decoder(build_encoder({"name": "tcn"}, (1, 16)), 8, "rnn")
    with pytest.raises(ConfigError, match="conv1d"):  # unknown names list the registered ones
        build_decoder(build_encoder({"name": "tcn"}, (1, 16)), 8, "conv")


def test_the_autoencoder_takes_a_decoder_by_name_and_its_model_reloads(tmp_path) -> None:
    from deepfeat.data.info import DataInfo
    from deepfeat.learners.build import build_learner

    info = DataInfo(kind="sequence", input_shape=(1, 32))
    learner = build_learner({"name": "autoencoder", "code_dim": 4, "decoder": "conv1d"}, info, {"name": "fcn"})
    assert isinstance(learner.decoder, Conv1dDecoder)
    loss = learner.training_step((torch.randn(6, 1, 32), torch.zeros(6, dtype=torch.long)))["loss"]
    assert torch.isfinite(loss)
    from deepfeat.run.model_io import export_model, load_model

    spec = {"name": "autoencoder", "code_dim": 4, "decoder": "conv1d"}
    export_model(learner.eval(), info, spec, {"name": "fcn"}, tmp_path / "model")
    again, _ = load_model(tmp_path / "model")
    x = torch.randn(3, 1, 32)
    assert isinstance(again.decoder, Conv1dDecoder) and torch.allclose(again.reconstruct(x), learner.reconstruct(x))


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
