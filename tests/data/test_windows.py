"""Sliding windows over a series, and window scores mapped back to time points."""

from __future__ import annotations

import numpy as np
import pytest

from deepfeat.data.windows import sliding_windows, window_labels, window_starts
from deepfeat.eval.windows import points_from_windows
from deepfeat.errors import DataError


def test_windows_cover_every_point_and_match_slicing() -> None:
    x = np.random.default_rng(0).normal(size=(2, 23))
    w, starts = sliding_windows(x, 8, 5)
    assert starts.tolist() == [0, 5, 10, 15] and w.shape == (4, 2, 8)  # 15 + 8 = 23: the end is reached
    for i, s in enumerate(starts):
        np.testing.assert_allclose(w[i], x[:, s:s + 8], rtol=1e-6)
    assert window_starts(24, 8, 5).tolist() == [0, 5, 10, 15, 16]  # one more window aligned to the end
    with pytest.raises(DataError, match="at least length=8"):
        window_starts(5, 8, 1)


def test_window_labels_flag_windows_holding_an_anomalous_point() -> None:
    y = np.zeros(20, dtype=int)
    y[9] = 1
    starts = window_starts(20, 4, 3)  # 0, 3, 6, 9, 12, 15, 16
    assert window_labels(y, starts, 4).tolist() == [0, 0, 1, 1, 0, 0, 0]


@pytest.mark.parametrize("reduce", ["max", "mean"])
def test_point_scores_reduce_the_windows_covering_each_point(reduce: str) -> None:
    rng = np.random.default_rng(1)
    starts, length, n = window_starts(30, 7, 3), 7, 30
    scores = rng.normal(size=len(starts))
    got = points_from_windows(scores, starts, length, n, reduce)
    for t in range(n):  # brute force: the windows whose span holds t
        covering = [s for s, st in zip(scores, starts) if st <= t < st + length]
        assert got[t] == pytest.approx(max(covering) if reduce == "max" else np.mean(covering))


def test_series_windows_from_your_own_files(tmp_path) -> None:
    """Training windows holding a labelled point are left out; the test series' windows get their labels; the
    bundle records the windowing that deepfeat score reuses."""
    pytest.importorskip("aeon")
    from deepfeat.data.datasets import load_dataset

    t = np.arange(400)
    train_y = ((t >= 100) & (t < 110)).astype(int)
    np.savez(tmp_path / "train.npz", x=np.stack([np.sin(t / 5), np.cos(t / 5)]), y=train_y)
    test_y = ((t >= 200) & (t < 205)).astype(int)
    np.savez(tmp_path / "test.npz", x=np.stack([np.sin(t / 5), np.cos(t / 5)]), y=test_y)
    spec = {"name": "series_windows", "path": str(tmp_path / "train.npz"), "test_path": str(tmp_path / "test.npz"),
            "length": 20, "stride": 10, "test_stride": 5}
    bundle = load_dataset(spec, val_fraction=0.0, normalize=False)
    starts = window_starts(400, 20, 10)
    assert len(bundle.train) == int((window_labels(train_y, starts, 20) == 0).sum()) == len(starts) - 2  # starts 90 and 100
    assert bundle.info.input_shape == (2, 20) and bundle.info.windows == {"length": 20, "stride": 5}
    test_starts = window_starts(400, 20, 5)
    assert bundle.test.y.numpy().tolist() == window_labels(test_y, test_starts, 20).tolist()
    np.testing.assert_allclose(bundle.test.x.numpy()[3], np.stack([np.sin(t / 5), np.cos(t / 5)])[:, 15:35], atol=1e-6)
    with pytest.raises(DataError, match="expected 2 channels"):
        np.save(tmp_path / "one.npy", np.zeros(400))
        load_dataset({**spec, "test_path": str(tmp_path / "one.npy")}, val_fraction=0.0)
