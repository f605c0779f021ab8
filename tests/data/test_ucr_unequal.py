"""UCR/UEA problems of unequal lengths load by name: padded (with a mask the encoders use) or resampled."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("aeon")

from deepfeat.data.datasets import load_dataset  # noqa: E402
from deepfeat.data.ragged import pad_series, real_stats, resample_series  # noqa: E402
from deepfeat.errors import ConfigError  # noqa: E402
from deepfeat.nn.masking import masked_time_mean, valid_mask  # noqa: E402


def test_japanese_vowels_loads_padded_with_the_real_lengths_recoverable() -> None:
    from aeon.datasets import load_classification

    raw, _ = load_classification("JapaneseVowels", split="train")
    bundle = load_dataset({"name": "ucr", "problem": "JapaneseVowels"})
    assert bundle.train.x.shape == (270, 12, 29) and len(bundle.test) == 370 and bundle.val is None
    lengths = valid_mask(bundle.train.x).sum(1).tolist()
    assert lengths == [s.shape[1] for s in raw]  # the mask finds each series' own length
    mean, std = real_stats(raw)  # standardized with statistics of the real steps only
    np.testing.assert_allclose(bundle.train.x[0, :, : raw[0].shape[1]].numpy(),
                               (raw[0] - mean[:, None]) / std[:, None], rtol=1e-5, atol=1e-5)


def test_resample_and_the_eq_copy_by_name() -> None:
    res = load_dataset({"name": "ucr", "problem": "PickupGestureWiimoteZ", "unequal": "resample"})
    assert res.train.x.shape[1:] == (1, 361) and bool((valid_mask(res.train.x).all()))
    eq = load_dataset({"name": "ucr", "problem": "JapaneseVowels_eq"})
    assert eq.train.x.shape == (270, 12, 25) and eq.info.name == "ucr/JapaneseVowels_eq"
    with pytest.raises(ConfigError, match="expected 'pad' or 'resample'"):
        load_dataset({"name": "ucr", "problem": "JapaneseVowels", "unequal": "crop"})


def test_resample_and_pad_helpers_against_numpy() -> None:
    series = [np.array([[0.0, 2.0]]), np.array([[1.0, 2.0, 3.0]])]
    np.testing.assert_allclose(resample_series(series, 3), [[[0.0, 1.0, 2.0]], [[1.0, 2.0, 3.0]]])
    padded = pad_series(series, 4, np.zeros(1), np.ones(1))
    np.testing.assert_array_equal(padded, [[[0.0, 2.0, 0.0, 0.0]], [[1.0, 2.0, 3.0, 0.0]]])


def test_masked_pooling_averages_the_real_steps_only() -> None:
    x = torch.randn(3, 2, 10)
    x[0, :, 6:] = 0
    x[1, :, 9:] = 0
    h = torch.randn(3, 5, 10)
    pooled = masked_time_mean(h, valid_mask(x))
    for i, n in enumerate([6, 9, 10]):
        torch.testing.assert_close(pooled[i], h[i, :, :n].mean(-1))


@pytest.mark.parametrize("name", ["inception", "fcn", "resnet1d"])
def test_padding_changes_nothing_but_the_length_when_masked(name: str) -> None:
    """A series alone and the same series padded to 6x its length: with the mask the features stay close to the
    unpadded series' (they differ only where padding reaches into the convolutions); without it they are
    averaged with 200 steps of padding."""
    from deepfeat.nn.encoder import build_encoder

    torch.manual_seed(0)
    short = torch.randn(1, 2, 40)
    padded = torch.cat([short, torch.zeros(1, 2, 200)], dim=2)
    masked = build_encoder({"name": name, "mask_padding": True}, (2, 240)).eval()
    unmasked = build_encoder({"name": name, "mask_padding": False}, (2, 240)).eval()
    unmasked.load_state_dict(masked.state_dict())
    ref = build_encoder({"name": name}, (2, 40)).eval()
    ref.load_state_dict(masked.state_dict())
    with torch.no_grad():
        want = ref(short)
        err_masked = (masked(padded) - want).abs().mean()
        err_unmasked = (unmasked(padded) - want).abs().mean()
    assert err_masked < 0.5 * err_unmasked


def test_a_variable_length_uea_problem_trains_by_name(tmp_path) -> None:
    import deepfeat

    cfg = {"data": {"name": "ucr", "problem": "JapaneseVowels"},
           "encoder": {"name": "inception", "depth": 3, "filters": 4, "bottleneck": 4},
           "optimizer": {"name": "adam", "lr": 0.01},
           "training": {"epochs": 4, "batch_size": 32, "progress": "none"},
           "evaluation": {"protocol": [], "embedding_plots": []}, "logging": {"plots": False, "report": False},
           "diagnostics": {"enabled": False}}
    run = deepfeat.fit(cfg, out=tmp_path / "run")
    assert run.info.input_shape == (12, 29)
    # 9 classes, the largest 24% of the test set; a small network reached 94% in 4 epochs when this was written
    assert run.results.test["test/acc"] > 0.7
