"""Registered datasets load offline with the right shapes, labels and splits; missing files say where."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from deepfeat.data import DATASETS, DataBundle, TensorSplit, available_datasets, data_root, load_dataset
from deepfeat.errors import ConfigError, DataError


def _check_labels(bundle: DataBundle, num_classes: int) -> None:
    assert bundle.info.num_classes == num_classes == len(bundle.info.class_names)
    for split in bundle.splits().values():
        assert isinstance(split, TensorSplit)
        assert split.x.dtype == torch.float32 and split.y.dtype == torch.int64
        assert torch.isfinite(split.x).all()
        assert split.y.min() >= 0 and split.y.max() < num_classes


def test_digits_images_in_unit_range_split_70_10_20() -> None:
    raw = load_dataset("digits", normalize=False)
    assert raw.info.kind == "image" and raw.info.input_shape == (1, 8, 8)
    assert raw.train.x.min() >= 0 and raw.train.x.max() == 1.0
    assert [len(s) for s in raw.splits().values()] == [1258, 180, 359]
    _check_labels(raw, 10)
    assert set(raw.test.y.tolist()) == set(range(10))  # stratified: every digit is tested
    bundle = load_dataset("digits", seed=0)
    assert len(bundle.info.mean) == 1 and torch.equal(bundle.train.y, raw.train.y)
    assert not torch.equal(load_dataset("digits", seed=1).train.y, raw.train.y)


def test_mnist_from_shared_folder_with_limit(shared_data: Path) -> None:
    bundle = load_dataset({"name": "mnist", "root": str(shared_data), "limit": 500, "test_limit": 200})
    assert bundle.info.input_shape == (1, 28, 28) and bundle.info.kind == "image"
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (450, 50, 200)
    _check_labels(bundle, 10)
    assert torch.bincount(bundle.train.y, minlength=10).min() >= 35  # stratified subset
    assert bundle.info.mean[0] == pytest.approx(0.13, abs=0.02)  # MNIST's well-known pixel mean
    assert bundle.info.std[0] == pytest.approx(0.31, abs=0.02)


def test_mnist_full_test_split_from_env(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPFEAT_DATA", str(shared_data))
    bundle = load_dataset({"name": "mnist", "limit": 100}, val_fraction=0.0, normalize=False)
    assert len(bundle.test) == 10000 and bundle.val is None
    assert bundle.test.x.min() == 0.0 and bundle.test.x.max() == 1.0
    assert torch.bincount(bundle.test.y).tolist()[:2] == [980, 1135]  # official test-set class counts


def test_mnist_download_true_finds_existing_files_without_writing(shared_data: Path) -> None:
    # The shared folder is read-only: torchvision's download code must see the files and stop.
    spec = {"name": "mnist", "root": str(shared_data), "download": True, "limit": 50, "test_limit": 10}
    bundle = load_dataset(spec)
    # 50 samples: the validation policy holds none out by default (a 5-sample split could not rank epochs)
    assert (len(bundle.train), bundle.val, len(bundle.test)) == (50, None, 10)


def test_missing_mnist_root_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_dataset({"name": "mnist", "root": str(tmp_path)})
    message = str(info.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "DEEPFEAT_DATA" in message and "download: true" in message
    assert not (tmp_path / "MNIST").exists()  # nothing was downloaded or created


def test_missing_cifar_is_reported_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPFEAT_DATA", str(tmp_path))
    assert data_root() == tmp_path and data_root("~/x") == Path(os.path.expanduser("~/x"))
    rows = {row["name"]: row for row in available_datasets()}
    assert rows["digits"]["available"] and not rows["mnist"]["available"]
    assert str(tmp_path / "cifar-10-batches-py") in rows["cifar10"]["where"]
    with pytest.raises(DataError, match="cifar-10-batches-py"):
        load_dataset("cifar10")


def test_available_datasets_lists_every_registered_name(shared_data: Path) -> None:
    rows = available_datasets()
    assert [row["name"] for row in rows] == DATASETS.names()
    by_name = {row["name"]: row for row in rows}
    assert by_name["mnist"]["available"] and str(shared_data / "MNIST" / "raw") in by_name["mnist"]["where"]
    assert all(row["description"] for row in rows)


def test_mnist1d_sequences_and_global_rng_untouched() -> None:
    pytest.importorskip("mnist1d")
    import numpy as np

    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    bundle = load_dataset({"name": "mnist1d", "num_samples": 1000})
    assert np.random.rand() == expected
    assert bundle.info.kind == "sequence" and bundle.info.input_shape == (1, 40)
    assert (len(bundle.train) + len(bundle.val), len(bundle.test)) == (800, 200)
    _check_labels(bundle, 10)


@pytest.mark.parametrize(("problem", "shape", "classes", "sizes"), [
    ("GunPoint", (1, 150), 2, (50, 150)),
    ("BasicMotions", (6, 100), 4, (40, 40)),
])
def test_ucr_problems_shipped_with_aeon(problem: str, shape: tuple, classes: int, sizes: tuple) -> None:
    pytest.importorskip("aeon")
    bundle = load_dataset({"name": "ucr", "problem": problem}, val_fraction=0.1)
    assert bundle.info.kind == "sequence" and bundle.info.input_shape == shape
    assert (len(bundle.train) + len(bundle.val), len(bundle.test)) == sizes
    _check_labels(bundle, classes)
    assert len(bundle.info.mean) == shape[0]


def test_ucr_unknown_problem_offline(tmp_path: Path) -> None:
    pytest.importorskip("aeon")
    with pytest.raises(DataError, match=r"'Nope' at data\.problem: expected Nope_TRAIN\.ts .* or in .*Nope"):
        load_dataset({"name": "ucr", "problem": "Nope", "root": str(tmp_path)})


def test_unknown_names_and_keys_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'mnist'"):
        load_dataset("mnits")
    with pytest.raises(ConfigError, match="unknown key 'data.limt'.*Did you mean 'limit'"):
        load_dataset({"name": "mnist", "limt": 10})
    with pytest.raises(ConfigError, match="unknown key 'data.options'"):
        load_dataset({"name": "digits", "options": {}})
    bundle = load_dataset("iris")
    assert load_dataset(bundle) is bundle  # built bundles pass through
    assert bundle.info.kind == "vector" and bundle.info.input_shape == (4,)


def test_limit_counts_the_samples_of_the_kept_classes(shared_data: Path) -> None:
    spec = {"name": "mnist", "root": str(shared_data), "limit": 1000, "test_limit": 300}
    bundle = load_dataset(spec, classes=[5, 6, 7, 8, 9], val_fraction=0.0)
    assert (len(bundle.train), len(bundle.test)) == (1000, 300)  # not a fifth of each, as when limit came first
    assert bundle.info.class_names == ["5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    assert torch.bincount(bundle.train.y, minlength=5).min() >= 170  # still stratified among the five


def test_a_limit_above_the_kept_classes_keeps_them_all() -> None:
    from deepfeat.data.bundle import LoadOptions, subsample

    labels = np.repeat(np.arange(4), 25)  # 100 samples, 25 per class
    kept = subsample(labels, 80, LoadOptions(classes=(1, 3)), ["a", "b", "c", "d"])
    assert sorted(set(labels[kept].tolist())) == [1, 3] and len(kept) == 50
    assert subsample(labels, 80, LoadOptions(), ["a", "b", "c", "d"]) is not None
    assert subsample(labels, 100, LoadOptions(), ["a", "b", "c", "d"]) is None


def test_image_folder_reads_the_suffixes_torchvision_reads() -> None:
    """image_folder keeps torchvision's list itself (so registering it does not import torchvision): they agree."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    from deepfeat.data.image_folder import IMAGE_SUFFIXES

    assert set(IMAGE_SUFFIXES) == set(IMG_EXTENSIONS)
