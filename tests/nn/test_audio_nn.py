"""Audio front-ends and augmentations: oracles against torchaudio / scipy, train-only behaviour, SNR."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

torchaudio = pytest.importorskip("torchaudio", reason="audio needs the 'audio' extra: pip install 'deepfeat[audio]'")
scipy_fft = pytest.importorskip("scipy.fft")

from deepfeat.errors import ConfigError  # noqa: E402
from deepfeat.nn import FRONTENDS, build_encoder  # noqa: E402
from deepfeat.nn.audio_augment import SpecAugment, WaveAugment  # noqa: E402


def test_log_mel_equals_torchaudio_mel_spectrogram() -> None:
    wave = torch.randn(3, 1, 4000)
    ours = FRONTENDS.build({"name": "log_mel", "n_mels": 40}, 8000)
    ref = torchaudio.transforms.MelSpectrogram(8000, n_fft=ours.n_fft, win_length=ours.win_length,
                                               hop_length=ours.hop_length, f_min=20.0, n_mels=40, power=2.0,
                                               norm="slaney", mel_scale="slaney")
    expected = torch.log(ref(wave[:, 0]) + 1e-6)
    assert ours(wave).shape == expected.shape == (3, 40, ours.frames(4000))
    torch.testing.assert_close(ours(wave), expected, rtol=1e-4, atol=1e-4)


def test_mfcc_is_the_orthonormal_dct_of_the_log_mel() -> None:
    wave = torch.randn(2, 1, 4000)
    mfcc = FRONTENDS.build({"name": "mfcc", "n_mfcc": 13, "n_mels": 32, "deltas": True}, 8000)
    out = mfcc(wave)
    logmel = mfcc.log_mel(wave).numpy()
    expected = scipy_fft.dct(logmel, type=2, norm="ortho", axis=1)[:, :13]
    assert out.shape == (2, 39, mfcc.frames(4000))
    np.testing.assert_allclose(out[:, :13].numpy(), expected, rtol=1e-4, atol=1e-3)


def test_front_end_runs_in_float32_under_bf16_autocast() -> None:
    encoder = build_encoder("audio_cnn", (1, 2000)).eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        spec = encoder.frontend(torch.randn(2, 1, 2000))
        z = encoder(torch.randn(2, 1, 2000))
    assert spec.dtype == torch.float32 and torch.isfinite(z).all()


def test_front_end_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="Nyquist"):
        FRONTENDS.build({"name": "log_mel", "f_max": 6000}, 8000)
    with pytest.raises(ConfigError, match="n_mfcc"):
        FRONTENDS.build({"name": "mfcc", "n_mfcc": 80, "n_mels": 40}, 8000)


def test_noise_is_added_at_the_requested_snr() -> None:
    x = torch.randn(64, 1, 8000) * torch.rand(64, 1, 1) * 3
    aug = WaveAugment(shift=0.0, gain_db=0.0, snr_db=(20.0, 20.0), noise_p=1.0)
    noisy = aug(x, torch.Generator().manual_seed(0))
    snr = 10 * torch.log10(x.pow(2).mean(dim=(1, 2)) / (noisy - x).pow(2).mean(dim=(1, 2)))
    assert torch.allclose(snr, torch.full_like(snr, 20.0), atol=0.3)


def test_time_shift_moves_the_clip_and_fills_with_zeros() -> None:
    x = torch.arange(1, 101, dtype=torch.float32).view(1, 1, 100).repeat(8, 1, 1)
    out = WaveAugment(shift=0.2, gain_db=0.0, noise_p=0.0).time_shift(x, torch.Generator().manual_seed(1))
    for row in out[:, 0]:
        kept = row[row != 0]
        assert len(kept) >= 80 and torch.equal(kept, torch.arange(kept[0], kept[0] + len(kept)))  # a contiguous window


def test_augmentations_act_in_training_only() -> None:
    wave, spec = torch.randn(4, 1, 1000), torch.randn(4, 20, 30)
    wave_aug, spec_aug = WaveAugment(), SpecAugment(freq_masks=2, freq_width=5, time_masks=2, time_width=5)
    assert not torch.equal(wave_aug.train()(wave), wave) and not torch.equal(spec_aug.train()(spec), spec)
    assert torch.equal(wave_aug.eval()(wave), wave) and torch.equal(spec_aug.eval()(spec), spec)


def test_audio_encoder_rebuilds_from_json_with_its_front_end() -> None:
    spec = {"name": "audio", "sample_rate": 16000, "frontend": {"name": "mfcc", "n_mfcc": 20, "deltas": True},
            "backbone": {"name": "tcn", "channels": [16, 16]}, "augment": {"snr_db": [5, 20]}}
    encoder = build_encoder(spec, (1, 3200)).eval()
    rebuilt = build_encoder(json.loads(json.dumps(encoder.config)), (1, 3200)).eval()
    rebuilt.load_state_dict(encoder.state_dict())
    x = torch.randn(2, 1, 3200)
    torch.testing.assert_close(rebuilt(x), encoder(x))
    assert encoder.backbone.input_shape == (60, encoder.frontend.frames(3200))


def test_audio_augmentation_is_registered_for_self_supervised_views_and_seeded() -> None:
    from deepfeat.data.augment import build_augment

    augment = build_augment({"name": "audio", "shift": 0.1, "snr_db": [10, 20]}, "sequence")
    x = torch.randn(4, 1, 800)
    a, b = (augment(x, torch.Generator().manual_seed(3)) for _ in range(2))
    assert torch.equal(a, b) and not torch.equal(a, x) and a.shape == x.shape


def test_cmvn_normalizes_each_clip_over_its_sounding_frames_only() -> None:
    from deepfeat.nn.audio_frontend import LogMel

    g = torch.Generator().manual_seed(0)
    x = torch.zeros(2, 1, 8000)
    x[:, :, :4000] = torch.randn(1, 1, 4000, generator=g)
    x[1] *= 10.0  # the same clip louder: a constant offset in the log domain, removed by CMVN
    spec = LogMel(8000, n_mels=16, cmvn="meanvar")(x)
    sounding = spec[:, :, 2:38]  # frames well inside the first half second
    assert torch.allclose(sounding[0], sounding[1], atol=5e-3)
    assert torch.equal(spec[:, :, 60:], torch.zeros_like(spec[:, :, 60:]))  # padding: 0 whatever the level
    plain = LogMel(8000, n_mels=16)(x)
    assert (plain[1, :, 2:38] - plain[0, :, 2:38]).mean() > 4.0  # log(100) without CMVN
    voiced = plain.exp().sum(1) > 1e-3  # CMVN's statistics skip the zero padding: mean 0, std 1 over sound
    mean = (spec * voiced.unsqueeze(1)).sum(2) / voiced.sum(1, keepdim=True)
    assert mean.abs().max() < 0.05
    with pytest.raises(ConfigError, match="cmvn"):
        LogMel(8000, cmvn="global")


def test_speed_perturbation_resamples_each_clip_and_keeps_the_length() -> None:
    x = torch.zeros(8, 1, 8000)
    x[:, :, :4000] = 1.0  # a half-second block: its end moves with the speed factor
    aug = WaveAugment(shift=0, gain_db=0, noise_p=0, speed=[0.8, 1.2]).train()
    y = aug(x, torch.Generator().manual_seed(1))
    ends = {int((clip[0] > 0.5).nonzero()[-1]) for clip in y}
    assert y.shape == x.shape and len(ends) > 1
    assert all(3300 <= e <= 5000 for e in ends)  # 4000 / 1.2 ... 4000 / 0.8
    assert torch.equal(WaveAugment(shift=0, gain_db=0, noise_p=0)(x, torch.Generator()), x)  # off by default
    with pytest.raises(ConfigError, match="speed"):
        WaveAugment(speed=[0.1, 3.0])
