"""mnist_8x8: MNIST in the format of scikit-learn's digits (8x8, 17 grey levels, digit filling the frame)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deepfeat.data.datasets import load_dataset
from deepfeat.data.mnist_8x8 import to_digits_format


def test_box_is_averaged_to_8x8_and_stretched_to_17_levels() -> None:
    images = torch.zeros(2, 1, 28, 28)
    images[0, 0, 4:24, 4:24] = 0.5  # a uniform digit box at half intensity: stretched to 1 everywhere
    images[1, 0, 4:14, 4:24] = 1.0  # the top half of the box set: top 4 rows 1, bottom 4 rows 0
    small = to_digits_format(images)
    assert small.shape == (2, 1, 8, 8)
    assert torch.equal(small[0], torch.ones(1, 8, 8))
    assert torch.equal(small[1, 0, :4], torch.ones(4, 8)) and torch.equal(small[1, 0, 4:], torch.zeros(4, 8))
    assert torch.equal(torch.round(small * 16), small * 16)


def test_loads_like_digits(shared_data: Path) -> None:
    raw = load_dataset({"name": "mnist_8x8", "root": str(shared_data), "limit": 300, "test_limit": 100},
                       normalize=False, val_fraction=0.0)
    digits = load_dataset("digits", normalize=False, val_fraction=0.0)
    assert raw.info.input_shape == digits.info.input_shape == (1, 8, 8)
    assert len(raw.train) == 300 and len(raw.test) == 100 and len(raw.info.class_names) == 10
    x = raw.train.x.numpy()
    assert x.min() == 0.0 and np.allclose(x.reshape(len(x), -1).max(1), 1.0)
    # The digit fills the frame as in digits: the mean intensity is close to digits' (~0.3), not MNIST's 0.13.
    assert abs(x.mean() - digits.train.x.numpy().mean()) < 0.1
