"""An image folder's channels: grayscale images load as one channel unless ``grayscale`` says otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfeat.data.datasets import load_dataset


def _folder(root: Path, mode: str, count: int = 4) -> Path:
    """``root/<a|b>/*.png`` of 8x8 images in PIL ``mode`` (16-bit: values up to 65535)."""
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(count):
            if mode == "I;16":
                image = Image.fromarray(rng.integers(0, 65536, (8, 8)).astype(np.uint16))
            else:
                image = Image.fromarray(rng.integers(0, 256, (8, 8)).astype(np.uint8)).convert(mode)
            image.save(root / name / f"{i}.png")
    return root


@pytest.mark.parametrize("mode, channels", [("L", 1), ("LA", 1), ("I;16", 1), ("RGB", 3), ("RGBA", 3)])
def test_channels_follow_the_images_unless_given(tmp_path: Path, mode: str, channels: int, caplog) -> None:
    root = _folder(tmp_path / "imgs", mode)
    with caplog.at_level("INFO", logger="deepfeat"):
        bundle = load_dataset({"name": "image_folder", "root": str(root), "size": 8}, test_fraction=0.0)
    assert bundle.info.input_shape == (channels, 8, 8)
    assert bundle.info.reader == {"grayscale": channels == 1}  # what the run's config and new images reuse
    assert "grayscale auto" in caplog.text
    x, _ = next(iter(bundle.train.batches(4)))
    assert x.shape[1] == channels


def test_a_given_grayscale_wins_over_the_files(tmp_path: Path) -> None:
    root = _folder(tmp_path / "imgs", "L")
    rgb = load_dataset({"name": "image_folder", "root": str(root), "size": 8, "grayscale": False}, test_fraction=0.0)
    assert rgb.info.input_shape == (3, 8, 8)


def test_a_mixed_folder_is_read_in_colour(tmp_path: Path) -> None:
    root = _folder(tmp_path / "imgs", "L")
    Image.new("RGB", (8, 8), (200, 10, 10)).save(root / "a" / "colour.png")
    bundle = load_dataset({"name": "image_folder", "root": str(root), "size": 8}, test_fraction=0.0)
    assert bundle.info.input_shape == (3, 8, 8)


def test_16_bit_images_keep_their_range(tmp_path: Path) -> None:
    """PIL's own RGB conversion clips 16-bit values at 255 (every pixel white): the high byte is kept instead."""
    root = _folder(tmp_path / "imgs", "I;16")
    bundle = load_dataset({"name": "image_folder", "root": str(root), "size": 8}, test_fraction=0.0,
                          normalize=False)
    x, _ = next(iter(bundle.train.batches(8)))
    assert 0.3 < float(x.mean()) < 0.7 and float(x.min()) < 0.1
