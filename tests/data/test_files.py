"""Datasets from user files: .npy / .npz / .csv arrays and a folder of class sub-folders of images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deepfeat.data import StreamSplit, load_dataset
from deepfeat.errors import DataError


def test_npy_unlabelled_kind_from_ndim(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).normal(size=(50, 3, 20)))
    bundle = load_dataset({"name": "arrays", "path": str(path)}, val_fraction=0.1)
    assert bundle.info.kind == "sequence" and bundle.info.input_shape == (3, 20)
    assert bundle.train.y is None and bundle.info.num_classes == 0
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (35, 5, 10)


def test_npz_custom_keys_and_own_test_split(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(path, feats=rng.normal(size=(40, 5)), target=np.repeat([10, 20], 20),
             x_test=rng.normal(size=(8, 5)), y_test=np.repeat([10, 20], 4))
    bundle = load_dataset({"name": "arrays", "path": str(path), "x_key": "feats", "y_key": "target"})
    assert bundle.info.kind == "vector" and bundle.info.class_names == ["10", "20"]
    assert len(bundle.test) == 8 and bundle.test.y.tolist() == [0] * 4 + [1] * 4
    with pytest.raises(DataError, match=r"expected a key 'x' in .*d\.npz, got keys feats, target"):
        load_dataset({"name": "arrays", "path": str(path)})


def test_npz_with_object_array_refuses_pickle(tmp_path: Path) -> None:
    path = tmp_path / "o.npz"
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DataError, match="pickle, which is refused"):
        load_dataset({"name": "arrays", "path": str(path)})


def test_csv_header_label_column_and_text_labels(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows = [f"{i},{i * 0.5},{'cat' if i % 2 else 'dog'}" for i in range(20)]
    path.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    bundle = load_dataset({"name": "arrays", "path": str(path)}, normalize=False)
    assert bundle.info.input_shape == (2,) and bundle.info.class_names == ["cat", "dog"]
    x, y = bundle.train.x, bundle.train.y
    assert torch.equal(y, (x[:, 0].long() % 2 == 0).long())  # dog (even rows) is class 1


def test_csv_numeric_labels_by_index_and_unlabelled(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("\n".join(f"{i % 3},{i},{i * 2}" for i in range(30)))
    bundle = load_dataset({"name": "arrays", "path": str(path), "label_column": 0})
    assert bundle.info.class_names == ["0", "1", "2"] and bundle.info.input_shape == (2,)
    plain = load_dataset({"name": "arrays", "path": str(path)})
    assert plain.train.y is None and plain.info.input_shape == (3,)


@pytest.mark.parametrize(("text", "kwargs", "expected"), [
    ("a,b\n\n1,2\n3\n", {}, r"t\.csv:4: expected 2 columns, got 1"),  # blank lines still counted
    ("a,b\n1,2\n3,oops\n", {}, r"t\.csv:3: expected a number .* got 'oops' \(1 such cells\)"),
    ("a,b\n1,2\n3,4\n", {"label_column": "y"}, r"expected a column named 'y', got columns a, b"),
    ("a,b\n1,nan\n3,4\n", {}, r"got 1 NaN or inf values \(first in sample 0\)"),
    ("a,b\n", {}, r"expected data rows, got none"),
])
def test_bad_csv_files(tmp_path: Path, text: str, kwargs: dict, expected: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=expected):
        load_dataset({"name": "arrays", "path": str(path), **kwargs})


def test_missing_or_unknown_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"got .*none\.npy \(not found\)"):
        load_dataset({"name": "arrays", "path": str(tmp_path / "none.npy")})
    (tmp_path / "x.txt").write_text("1 2")
    with pytest.raises(DataError, match=r"expected a \.npy, \.npz, \.csv or \.parquet file, got '\.txt'"):
        load_dataset({"name": "arrays", "path": str(tmp_path / "x.txt")})


def _write_images(root: Path, per_class: int) -> None:
    colours = {"blue": (0, 0, 200), "red": (200, 0, 0)}
    for name, colour in colours.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (12 + i, 10), colour).save(root / name / f"{i}.png")


def test_image_folder_streams_resized_normalized_images(tmp_path: Path) -> None:
    _write_images(tmp_path / "train", per_class=10)
    _write_images(tmp_path / "test", per_class=3)
    root, test_root = str(tmp_path / "train"), str(tmp_path / "test")
    spec = {"name": "image_folder", "root": root, "size": 8, "test_root": test_root}
    bundle = load_dataset(spec, val_fraction=0.2)
    assert isinstance(bundle.train, StreamSplit)
    assert bundle.info.input_shape == (3, 8, 8) and bundle.info.class_names == ["blue", "red"]
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (16, 4, 6)
    xs, ys = zip(*bundle.train.batches(5, shuffle=True, generator=torch.Generator().manual_seed(0)))
    x, y = torch.cat(xs), torch.cat(ys)
    assert x.shape == (16, 3, 8, 8) and sorted(y.tolist()) == [0] * 8 + [1] * 8
    # Statistics of the training sample were applied: each channel is now centred with unit std.
    assert x.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    assert x[:, 0].std().item() == pytest.approx(1.0, abs=0.05)
    red = x[y == 1][:, 0].mean().item()
    test_x, test_y = next(bundle.test.batches(6))
    assert test_x[test_y == 1][:, 0].mean().item() == pytest.approx(red, abs=1e-4)


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="one sub-folder of images per class"):
        load_dataset({"name": "image_folder", "root": str(tmp_path / "missing")})
    _write_images(tmp_path / "a", per_class=2)
    (tmp_path / "b" / "green").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(tmp_path / "b" / "green" / "0.png")
    with pytest.raises(DataError, match="expected the class folders of root \\(blue, red\\), got green"):
        load_dataset({"name": "image_folder", "root": str(tmp_path / "a"), "test_root": str(tmp_path / "b")})
