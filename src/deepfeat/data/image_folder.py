"""A folder of images with one sub-folder per class (torchvision's ``ImageFolder``), streamed from disk.

Images are decoded, resized and normalized per batch by a ``DataLoader`` (a :class:`StreamSplit`),
so folders larger than memory work. Normalization statistics are estimated on a seeded random sample
of at most ``stats_samples`` training images rather than the whole training split: reading every
image once more just for two numbers per channel would double the cost of loading a large folder,
and a few hundred images pin the mean and std down to about 1%.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Subset
from torchvision import datasets, transforms

from deepfeat.data.bundle import LoadOptions, channel_stats, check_fractions, split_indices
from deepfeat.data.datasets import always_available, register_dataset
from deepfeat.data.info import DataInfo
from deepfeat.data.splits import DataBundle, StreamSplit
from deepfeat.data.validation_policy import resolve_val_fraction
from deepfeat.errors import DataError

IMAGE_SUFFIXES = datasets.folder.IMG_EXTENSIONS


class ImageFiles(Dataset):
    """Images of one folder without class sub-folders (new images to apply a run to), unlabelled, sorted."""

    classes: list[str] = []
    targets = None

    def __init__(self, files: list[Path], transform: transforms.Compose) -> None:
        self.files, self.transform = files, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(datasets.folder.default_loader(str(self.files[i])))


def _open_folder(root: str, transform: transforms.Compose, where: str) -> datasets.ImageFolder | ImageFiles:
    """``root/<class>/*`` as torchvision's ImageFolder, or ``root/*`` (no class folders) unlabelled; either lists
    its ``files``, so each output of a run applied to them can name its file."""
    folder = Path(root).expanduser()
    flat = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES) \
        if folder.is_dir() and not any(p.is_dir() for p in folder.iterdir()) else []
    if flat:
        return ImageFiles(flat, transform)
    try:
        images = datasets.ImageFolder(str(folder), transform=transform)
        images.files = [Path(path) for path, _ in images.samples]  # type: ignore[attr-defined]
        return images
    except (FileNotFoundError, OSError) as exc:
        raise DataError(
            f"image folder at {where}: expected {folder} to hold one sub-folder of images per class, "
            f"got: {exc}. Point root at the folder whose sub-folders are the class names."
        ) from exc


def _sample_stats(dataset: Subset, count: int, seed: int) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of at most ``count`` images (C, H, W) drawn from ``dataset``."""
    rng = np.random.default_rng(seed)
    picks = rng.permutation(len(dataset))[:count]
    items = [dataset[int(i)] for i in picks]
    images = torch.stack([item[0] if isinstance(item, tuple) else item for item in items])  # (x, y) or x
    return channel_stats(images, "image")


@register_dataset("image_folder", aliases=("imagefolder",), available=always_available("any folder path"),
                  folder_suffixes=IMAGE_SUFFIXES)
def image_folder(
    root: str,
    size: int | list[int] = 32,
    test_root: str | None = None,
    grayscale: bool = False,
    num_workers: int = 0,
    stats_samples: int = 512,
    *,
    options: LoadOptions = LoadOptions(),
) -> DataBundle:
    """Images ``root/<class>/*`` (or ``root/*``: unlabelled) resized to ``size`` (int or [H, W]), as (C, H, W) in
    [0, 1], streamed.

    With ``test_root`` (same class folders) that folder is the test split; otherwise test and
    validation samples are drawn from ``root`` (seeded, stratified).
    """
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    steps: list = [transforms.Resize((height, width))]
    if grayscale:
        steps.append(transforms.Grayscale(num_output_channels=1))
    steps.append(transforms.ToTensor())
    # One Compose shared by every split, so appending Normalize below reaches them all.
    pipeline = transforms.Compose(steps)
    where = options.where
    check_fractions(options.val_fraction or 0.0, 0.0 if test_root else options.test_fraction, where)
    full = _open_folder(root, pipeline, f"{where}.root")
    labels = None if full.targets is None else np.asarray(full.targets)
    val = resolve_val_fraction(options.val_fraction, len(full))
    fractions = [val] if test_root else [val, options.test_fraction]
    parts = [Subset(full, idx.tolist()) for idx in split_indices(len(full), labels, fractions, options.seed)]
    if test_root:
        test = _open_folder(test_root, pipeline, f"{where}.test_root")
        if test.classes != full.classes:
            raise DataError(
                f"test image folder at {where}.test_root: expected the class folders of root "
                f"({', '.join(full.classes)}), got {', '.join(test.classes)}. Use the same class names."
            )
        parts.append(Subset(test, list(range(len(test)))))
    train, val, test_part = parts
    if len(train) == 0:
        raise DataError(
            f"training split at {where}: expected at least one training image, got 0 of {len(full)}. "
            "Add images or lower val_fraction/test_fraction."
        )
    shape = (1 if grayscale else 3, height, width)
    name = f"image_folder:{Path(root).name}"
    info = DataInfo("image", shape, len(full.classes), list(full.classes), name=name)
    if options.normalize:
        info.mean, info.std = _sample_stats(train, stats_samples, options.seed)
        pipeline.transforms.append(transforms.Normalize(info.mean, info.std))
    splits = [StreamSplit(p, num_workers=num_workers) if len(p) else None for p in (train, val, test_part)]
    return DataBundle(info, splits[0], splits[1], splits[2])  # type: ignore[arg-type]
