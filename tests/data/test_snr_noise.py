"""White noise at a given SNR: the corrupted clip's SNR is the configured one, whatever the clip's loudness."""

from __future__ import annotations

import pytest
import torch

from deepfeat.data.noise import build_noise
from deepfeat.errors import ConfigError
from deepfeat.eval.reconstruction import snr_db


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0])
def test_the_noise_has_the_configured_snr_for_loud_and_quiet_clips(snr: float) -> None:
    torch.manual_seed(0)
    t = torch.arange(8000) / 8000
    clean = torch.stack([0.5 * torch.sin(2 * torch.pi * 300 * t), 0.01 * torch.sin(2 * torch.pi * 900 * t)])[:, None]
    noisy = build_noise({"name": "snr", "snr_db": snr})(clean)
    measured = snr_db(clean, noisy)  # torchmetrics' signal_noise_ratio: an independent computation
    assert measured.shape == (2,)
    assert abs(measured - snr).max() < 0.2  # 8,000 noise samples per clip: the power estimate is within ~2%


def test_a_bad_snr_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="noise 'snr' snr_db"):
        build_noise({"name": "snr", "snr_db": 500})
