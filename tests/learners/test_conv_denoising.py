"""The convolutional denoising autoencoder of examples/configs/mnist_denoising.yaml, checked on 8x8 digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deepfeat.config import load_config
from deepfeat.data.datasets import load_dataset
from deepfeat.run.model_io import export_model, load_model
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.eval.reconstruction import psnr
from deepfeat.learners.build import build_learner
from deepfeat.nn.decoders import ConvDecoder

CONFIG = load_config(Path(__file__).resolve().parents[2] / "examples" / "configs" / "mnist_denoising.yaml")


def _denoise(learner, noisy: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = learner.reconstruct(learner.scale.from_raw(torch.as_tensor(noisy, dtype=torch.float32)))
    return learner.scale.to_raw(out).numpy()


@pytest.mark.slow
def test_conv_denoiser_of_the_mnist_config_denoises_digits_and_reloads(tmp_path) -> None:
    data = load_dataset("digits")
    learner = build_learner(CONFIG.learner, data.info, CONFIG.encoder)
    assert isinstance(learner.decoder, ConvDecoder)
    # 8x8 digits: two pooled stages leave a 2x2 map, flattened (64 * 2 * 2) rather than averaged away.
    assert learner.encoder.feature_dim == 64 * 2 * 2
    cfg = TrainingConfig(epochs=25, batch_size=64, progress="none", restore_best=False, threads=1)
    Trainer(cfg, seed=0).fit(learner, data, optimizer=CONFIG.optimizer, schedule=CONFIG.schedule)
    learner.eval()
    clean = learner.scale.to_raw(data.test.x).numpy()
    noisy = clean + 0.5 * np.random.default_rng(0).standard_normal(clean.shape)
    denoised = _denoise(learner, noisy)
    mean_image = np.broadcast_to(learner.scale.to_raw(data.train.x).numpy().mean(0), clean.shape)
    assert psnr(clean, noisy) == pytest.approx(6.0, abs=0.3)
    assert psnr(clean, denoised) >= psnr(clean, noisy) + 7.0  # measured +8.9
    # The mean training image already gains several dB; a working denoiser must beat it clearly.
    assert psnr(clean, denoised) >= psnr(clean, mean_image) + 2.5  # measured +3.6
    export_model(learner, data.info, CONFIG.learner, CONFIG.encoder, tmp_path / "model")
    loaded, _ = load_model(tmp_path / "model")
    np.testing.assert_allclose(_denoise(loaded, noisy), denoised, atol=1e-5)
