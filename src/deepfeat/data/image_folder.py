"""A folder of images with one sub-folder per class (torchvision's ``ImageFolder``), streamed from disk.

Images are decoded, resized and normalized per batch by a ``DataLoader`` (a :class:`StreamSplit`),
so folders larger than memory work. Normalization statistics are estimated on a seeded random sample
of at most ``stats_samples`` training images rather than the whole training split: reading every
image once more just for two numbers per channel would double the cost of loading a large folder,
and a few hundred images pin the mean and std down to about 1%.

Every image is checked before training without decoding it (PIL's ``verify``, which reads a PNG's every
chunk and checksum; a JPEG must end with its end-of-image marker), so a truncated file, or one that is
no image at all, is found up front: ``on_error`` fails naming it or skips it (:mod:`deepfeat.data.folders`).
Damage such a check cannot see fails when the image is decoded in training, naming the file.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset, Subset

from deepfeat.data.bundle import LoadOptions, check_fractions, split_indices
from deepfeat.data.datasets import always_available, register_dataset
from deepfeat.data.kinds.image import IMAGE
from deepfeat.data.folders import OnError, check_inside, first_line, screen
from deepfeat.data.info import DataInfo
from deepfeat.data.splits import DataBundle, StreamSplit
from deepfeat.data.validation_policy import resolve_val_fraction
from deepfeat.errors import DataError

if TYPE_CHECKING:  # torchvision is imported where it is used: it takes about a second, which loading a config
    from torchvision import datasets, transforms  # (it registers this dataset) should not pay

log = logging.getLogger("deepfeat")

_JPEG_END = b"\xff\xd9"  # the EOI marker a complete JPEG ends with
# The suffixes torchvision's ImageFolder reads (its IMG_EXTENSIONS; a test checks they agree).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
# PIL modes of single-channel images (bilevel, 8-bit, with alpha, 16/32-bit integer, float): luma loses nothing.
GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
GRAY_SAMPLES = 64  # images whose mode (read from the header alone) decides grayscale: null


class ImageFiles(Dataset):
    """Images of one folder without class sub-folders (new images to apply a run to), unlabelled, sorted."""

    classes: list[str] = []
    targets = None

    def __init__(self, files: list[Path], transform: transforms.Compose, loader: Any) -> None:
        self.files, self.transform, self.loader = files, transform, loader

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(self.loader(str(self.files[i])))


def _image_error(path: Path, exc: BaseException, where: str) -> DataError:
    text = first_line(exc)
    if isinstance(exc, UnidentifiedImageError):
        what = "a file PIL cannot identify as an image"
    else:
        what = f"a {'truncated' if 'truncated' in text.lower() else 'damaged'} image ({text})"
    return DataError(f"image file {path} at {where}: expected an image PIL can decode, got {what}. "
                     "Remove or replace the file.")


def _check_image(path: Path, where: str) -> None:
    """:class:`DataError` naming ``path`` unless it passes PIL's ``verify`` (the format's structure; a PNG's every
    chunk and checksum) and, for a JPEG, ends with its end-of-image marker. A JPEG that does not (cut off, or
    with data appended after the image) is decoded at 1/8 scale to tell which."""
    try:
        with Image.open(path) as image:
            image_format = image.format
            image.verify()
        if image_format == "JPEG" and not _ends_with(path, _JPEG_END):
            with Image.open(path) as image:
                image.draft(image.mode, (1, 1))
                image.load()
    except Exception as exc:  # noqa: BLE001 - PIL raises OSError, SyntaxError, ValueError, struct.error, ...
        raise _image_error(path, exc, where) from None


def _ends_with(path: Path, marker: bytes) -> bool:
    with open(path, "rb") as f:
        f.seek(-min(len(marker), path.stat().st_size), 2)
        return f.read() == marker


def _read_image(path: str, where: str) -> Image.Image:
    """The image in RGB as torchvision's loader reads it, with a :class:`DataError` naming the file if it stopped
    decoding since the check. A 16-bit grayscale image keeps its high byte (PIL's own conversion clips at 255)."""
    try:
        with open(path, "rb") as f, Image.open(f) as image:
            if image.mode.startswith("I;16"):
                return Image.fromarray((np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8)).convert("RGB")
            return image.convert("RGB")
    except Exception as exc:  # noqa: BLE001 - as in _check_image
        raise _image_error(Path(path), exc, where) from None


def _open_folder(root: str, transform: transforms.Compose, where: str, on_error: OnError,
                 follow_symlinks: bool) -> tuple[datasets.ImageFolder | ImageFiles, list[str]]:
    """``root/<class>/*`` as torchvision's ImageFolder, or ``root/*`` (no class folders) unlabelled, the bad files
    left out (``on_error: skip``), and the skipped files. Either lists its ``files``, so each output of a run
    applied to them can name its file."""
    from torchvision import datasets

    folder = Path(root).expanduser()
    section = where.rsplit(".", 1)[0]
    loader = partial(_read_image, where=where)
    flat = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES) \
        if folder.is_dir() and not any(p.is_dir() for p in folder.iterdir()) else []
    if flat:
        check_inside(flat, folder, section, follow_symlinks)
        kept, skipped = screen(flat, partial(_check_image, where=where), on_error, section)
        return ImageFiles([flat[i] for i in kept], transform, loader), skipped
    try:
        images = datasets.ImageFolder(str(folder), transform=transform, loader=loader)
    except (FileNotFoundError, OSError) as exc:
        raise DataError(
            f"image folder at {where}: expected {folder} to hold one sub-folder of images per class, "
            f"got: {exc}. Point root at the folder whose sub-folders are the class names."
        ) from exc
    files = [Path(path) for path, _ in images.samples]
    check_inside(files, folder, section, follow_symlinks)
    kept, skipped = screen(files, partial(_check_image, where=where), on_error, section)
    images.samples = images.imgs = [images.samples[i] for i in kept]
    images.targets = [target for _, target in images.samples]
    images.files = [Path(path) for path, _ in images.samples]  # type: ignore[attr-defined]
    return images, skipped


def _all_gray(files: list[Path], where: str) -> bool:
    """Whether each of at most :data:`GRAY_SAMPLES` images spread evenly over ``files`` has a single-channel PIL
    mode (only headers are read), logged with the choice it makes for ``grayscale: null``."""
    spread = np.linspace(0, len(files) - 1, min(GRAY_SAMPLES, len(files))).astype(int)
    picks = [files[int(i)] for i in np.unique(spread)]
    modes = {}
    for path in picks:
        with Image.open(path) as image:
            modes[image.mode] = modes.get(image.mode, 0) + 1
    gray = set(modes) <= GRAY_MODES
    seen = ", ".join(f"{n} {mode}" for mode, n in sorted(modes.items()))
    log.info(f"{where}.grayscale auto: {'1 channel' if gray else '3 channels (RGB)'} ({len(picks)} sampled images: "
             f"{seen}); set grayscale: {str(not gray).lower()} for {'RGB' if gray else 'one channel'}")
    return gray


def _sample_stats(dataset: Subset, count: int, seed: int) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of at most ``count`` images (C, H, W) drawn from ``dataset``."""
    rng = np.random.default_rng(seed)
    picks = rng.permutation(len(dataset))[:count]
    items = [dataset[int(i)] for i in picks]
    images = torch.stack([item[0] if isinstance(item, tuple) else item for item in items])  # (x, y) or x
    return IMAGE.statistics(images)


@register_dataset("image_folder", aliases=("imagefolder",), available=always_available("any folder path"),
                  folder_suffixes=IMAGE_SUFFIXES)
def image_folder(
    root: str,  # the folder: one sub-folder of images per class, or the images themselves (unlabelled)
    size: int | list[int] = 32,  # every image is resized to size x size, or to [H, W]
    test_root: str | None = None,  # a folder with the same class folders as the test split; null: drawn from root
    grayscale: bool | None = None,  # one channel (luma) or three (RGB); null: one when the images are all grayscale
    num_workers: int | None = None,  # DataLoader processes decoding images; null: from the cores available, 0: none
    stats_samples: int = 512,  # at most this many training images estimate the normalization's mean and std
    on_error: OnError = "fail",  # an image that does not decode: fail naming it, or skip it (listed in results)
    follow_symlinks: bool = False,  # follow links that lead out of root (refused otherwise)
    *,
    options: LoadOptions = LoadOptions(),
) -> DataBundle:
    """Images ``root/<class>/*`` (or ``root/*``: unlabelled) resized to ``size`` (int or [H, W]), as (C, H, W) in
    [0, 1], streamed.

    ``grayscale: null`` reads one channel when every image sampled from ``root`` (their headers only) has a
    single-channel mode (``L``, ``LA``, ``I;16``, ...), else three; the choice is logged and kept in
    ``DataInfo.reader``, so the run's config records it and new images are read the same way.

    With ``test_root`` (same class folders) that folder is the test split; otherwise test and
    validation samples are drawn from ``root`` (seeded, stratified). A file that does not decode fails
    naming it (``on_error: fail``) or is left out (``skip``); links leading out of a root are refused
    unless ``follow_symlinks``.
    """
    from torchvision import transforms

    height, width = (size, size) if isinstance(size, int) else tuple(size)
    # One Compose shared by every split, so inserting Grayscale and appending Normalize below reaches them all.
    pipeline = transforms.Compose([transforms.Resize((height, width)), transforms.ToTensor()])
    where = options.where
    check_fractions(options.val_fraction or 0.0, 0.0 if test_root else options.test_fraction, where)
    full, skipped = _open_folder(root, pipeline, f"{where}.root", on_error, follow_symlinks)
    if grayscale is None:
        grayscale = bool(len(full)) and _all_gray(full.files, where)
    if grayscale:
        pipeline.transforms.insert(1, transforms.Grayscale(num_output_channels=1))
    labels = None if full.targets is None else np.asarray(full.targets)
    val = resolve_val_fraction(options.val_fraction, len(full))
    fractions = [val] if test_root else [val, options.test_fraction]
    parts = [Subset(full, idx.tolist()) for idx in split_indices(len(full), labels, fractions, options.seed)]
    if test_root:
        test, skipped_test = _open_folder(test_root, pipeline, f"{where}.test_root", on_error, follow_symlinks)
        skipped += skipped_test
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
    info = DataInfo("image", shape, len(full.classes), list(full.classes), name=name, skipped=skipped or None,
                    reader={"grayscale": grayscale})
    if options.normalize:
        info.mean, info.std = _sample_stats(train, stats_samples, options.seed)
        pipeline.transforms.append(transforms.Normalize(info.mean, info.std))
    splits = [StreamSplit(p, num_workers=num_workers) if len(p) else None for p in (train, val, test_part)]
    return DataBundle(info, splits[0], splits[1], splits[2])  # type: ignore[arg-type]
