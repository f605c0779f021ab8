"""Per-sample metadata (``split.groups``, e.g. each recording's speaker) follows its samples into every split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfeat.data.bundle import make_bundle
from deepfeat.errors import DataError


def _data(n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    x = rng.standard_normal((n, 4)).astype(np.float32)
    x[:, 0] = np.arange(n)  # the sample's own index, to check where it went
    return x, y, np.array([f"s{i}" for i in range(n)])


def _owner(split) -> np.ndarray:
    return np.array([f"s{int(round(v))}" for v in split.x[:, 0].tolist()])


def test_groups_follow_the_samples_through_the_split_and_normalization() -> None:
    x, y, who = _data()
    bundle = make_bundle(x, y, "vector", normalize=False, val_fraction=0.2, test_fraction=0.2,
                         groups={"speaker": who})
    for split in bundle.splits().values():
        np.testing.assert_array_equal(split.groups["speaker"], _owner(split))
    assert sum(len(s.groups["speaker"]) for s in bundle.splits().values()) == len(x)


def test_groups_follow_a_given_test_split_the_held_out_classes_and_a_class_subset() -> None:
    x, y, who = _data()
    xt, yt, _ = _data(15)
    xt[:, 0] += 100
    who_t = np.array([f"s{i + 100}" for i in range(15)])
    one_class = make_bundle(x, y, "vector", normalize=False, val_fraction=0.2, x_test=xt, y_test=yt,
                            normal_classes=[0], groups={"speaker": who}, groups_test={"speaker": who_t})
    assert set(one_class.train.y.tolist()) == {0} and len(one_class.test) > 15  # other classes joined the test split
    for split in one_class.splits().values():
        np.testing.assert_array_equal(split.groups["speaker"], _owner(split))
    subset = make_bundle(x, y, "vector", normalize=False, val_fraction=0.2, x_test=xt, y_test=yt, classes=[1, 2],
                         groups={"speaker": who}, groups_test={"speaker": who_t})
    np.testing.assert_array_equal(subset.test.groups["speaker"], _owner(subset.test))
    assert len(subset.test) == 10


def test_groups_survive_a_move_to_another_device() -> None:
    x, y, who = _data()
    bundle = make_bundle(x, y, "vector", groups={"speaker": who})
    moved = bundle.train.to(torch.device("cpu"))
    np.testing.assert_array_equal(moved.groups["speaker"], bundle.train.groups["speaker"])
    assert make_bundle(x, y, "vector").train.groups is None


def test_groups_of_the_wrong_length_are_one_clear_error() -> None:
    x, y, who = _data()
    with pytest.raises(DataError, match=r"groups at data.groups.speaker: expected one value per sample \(60\)"):
        make_bundle(x, y, "vector", groups={"speaker": who[:-1]})


def test_fsdd_gives_each_recording_its_speaker_and_with_target_speaker_its_digit() -> None:
    pytest.importorskip("soundfile", reason="audio needs the 'audio' extra: pip install 'deepfeat[audio]'")
    from deepfeat.data import load_dataset
    from deepfeat.data.datasets import data_root

    if not (data_root() / "fsdd" / "recordings").is_dir():
        pytest.skip("FSDD not found (set DEEPFEAT_DATA)")
    held_out = load_dataset({"name": "fsdd", "split": "speaker", "test_speaker": "theo", "limit": 30, "test_limit": 10},
                            val_fraction=0.2)
    assert set(held_out.test.groups["speaker"]) == {"theo"}
    assert "theo" not in set(held_out.train.groups["speaker"]) | set(held_out.val.groups["speaker"])
    by_speaker = load_dataset({"name": "fsdd", "target": "speaker", "split": "speaker", "test_speaker": "lucas",
                               "limit": 30, "test_limit": 10}, val_fraction=0.2)
    assert set(by_speaker.test.y.tolist()) == {by_speaker.info.class_names.index("lucas")}
    assert set(by_speaker.test.groups["digit"]) <= {str(d) for d in range(10)}
