"""MNIST in the format of scikit-learn's 8x8 ``digits``: the source domain made to look like the target.

scikit-learn's ``digits`` (UCI optdigits) were made from 32x32 bitmaps of size-normalized digits by
counting the set pixels in 4x4 blocks: 8x8 images whose digit fills the frame, with 17 grey levels.
MNIST fits each digit in a 20x20 box centred (by centre of mass) in a 28x28 frame. Upscaling digits
to 28x28 for an MNIST-pretrained network gives blurry blobs that fill the whole frame, unlike any
MNIST image; the other way round loses nothing the target has. ``mnist_8x8`` keeps MNIST's central
20x20 box, averages it down to 8x8 (area interpolation), stretches each image to a maximum of 1 and
rounds to digits' 17 levels (0, 1/16, ..., 1). Pretrain on it, then transfer to ``digits`` at their
own size (``benchmarks/bench_transfer.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deepfeat.data.bundle import LoadOptions, make_bundle, subsample
from deepfeat.data.datasets import data_root, register_dataset
from deepfeat.data.splits import DataBundle
from deepfeat.data.torchvision_sets import availability, read_images, to_unit, vision_class

BOX = 20  # MNIST's digit box (LeCun et al. 1998), centred in the 28x28 frame
SIDE = 8  # digits' side
LEVELS = 16  # digits' pixels count set bits in 4x4 blocks: 0..16


def to_digits_format(images: torch.Tensor) -> torch.Tensor:
    """MNIST-style images ``(N, 1, 28, 28)`` in [0, 1] -> digits-style ``(N, 1, 8, 8)`` in {0, 1/16, ..., 1}."""
    start = (images.shape[-1] - BOX) // 2
    box = images[..., start:start + BOX, start:start + BOX]
    small = F.interpolate(box, size=(SIDE, SIDE), mode="area")
    peak = small.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    return torch.round(small / peak * LEVELS) / LEVELS


@register_dataset("mnist_8x8", aliases=("mnist_digits_format",), available=availability("MNIST"))
def mnist_8x8(
    root: str | None = None,
    limit: int | None = None,
    test_limit: int | None = None,
    *,
    options: LoadOptions = LoadOptions(),
) -> DataBundle:
    """MNIST's 60k / 10k images in the format of scikit-learn's ``digits``: (1, 8, 8), 17 grey levels."""
    folder, where = data_root(root), options.where
    x, y, classes = read_images(vision_class("MNIST"), "mnist_8x8", folder, True, False, where)
    x_test, y_test, _ = read_images(vision_class("MNIST"), "mnist_8x8", folder, False, False, where)
    x, y = to_unit(x, y, subsample(y, limit, options, classes))
    x_test, y_test = to_unit(x_test, y_test, subsample(y_test, test_limit, options, classes))
    return make_bundle(to_digits_format(x), y, "image", "mnist_8x8", class_names=classes,
                       x_test=to_digits_format(x_test), y_test=y_test, **options.kwargs())
