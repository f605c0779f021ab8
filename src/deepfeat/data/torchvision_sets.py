"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision, from ``data_root()``, with the official test split.

The whole dataset is converted to one tensor from torchvision's ``.data`` / ``.targets`` arrays
(about 0.1 s for MNIST) instead of going through per-sample PIL images. ``download: true`` uses
torchvision's own download code (official mirrors and MD5 checksums).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from deepfeat.data.bundle import LoadOptions, make_bundle, subsample
from deepfeat.data.datasets import Availability, data_root, register_dataset
from deepfeat.data.splits import DataBundle
from deepfeat.errors import DataError

if TYPE_CHECKING:
    from torchvision.datasets import VisionDataset

    VisionClass = type[VisionDataset]


def vision_class(name: str) -> VisionClass:
    """torchvision's dataset class ``name`` (``MNIST``), imported when first used: torchvision takes about a second to
    import, which loading a config (it registers these datasets) should not pay."""
    from torchvision import datasets

    return getattr(datasets, name)


def _folder(cls: VisionClass, root: Path) -> Path:
    """The folder torchvision reads ``cls`` from under ``root``."""
    if issubclass(cls, vision_class("MNIST")):
        return root / cls.__name__ / "raw"
    return root / cls.base_folder  # type: ignore[attr-defined]


def _files(cls: VisionClass) -> list[str]:
    if issubclass(cls, vision_class("MNIST")):
        # torchvision keeps the uncompressed files next to (or instead of) the .gz downloads.
        return [os.path.splitext(os.path.basename(url))[0] for url, _ in cls.resources]
    return [name for name, _ in cls.train_list + cls.test_list]  # type: ignore[attr-defined]


def availability(name: str) -> Availability:
    """Whether the files of torchvision's dataset class ``name`` are under ``data_root()``, and where."""
    def check() -> tuple[bool, str]:
        cls = vision_class(name)
        folder = _folder(cls, data_root())
        missing = [f for f in _files(cls) if not (folder / f).is_file()]
        if missing:
            return False, f"missing {', '.join(missing)} in {folder}"
        return True, str(folder)

    return check


def read_images(
    cls: VisionClass, name: str, root: Path, train: bool, download: bool, where: str
) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """Images as uint8 (N, C, H, W), labels (N,) and class names, from torchvision's arrays."""
    try:
        ds = cls(str(root), train=train, download=download)  # type: ignore[call-arg]
    except (RuntimeError, OSError) as exc:
        if download:
            reason = " ".join(str(exc).split())  # torchvision's message spans lines; errors print as one
            raise DataError(
                f"dataset '{name}' at {where}: expected to download it into {root}, got: {reason}. "
                f"Check the network, or copy the files into {_folder(cls, root)} and set {where}.root "
                "or DEEPFEAT_DATA to that root."
            ) from exc
        raise DataError(
            f"dataset '{name}' at {where}: expected its files ({', '.join(_files(cls))}) in "
            f"{_folder(cls, root)}, got none there. Set {where}.root or the DEEPFEAT_DATA environment "
            "variable to the folder that holds them, or set download: true to fetch them."
        ) from exc
    images = torch.as_tensor(ds.data)  # type: ignore[attr-defined]
    # MNIST keeps (N, H, W); CIFAR keeps channels last (N, H, W, C).
    images = images.unsqueeze(1) if images.dim() == 3 else images.permute(0, 3, 1, 2)
    labels = torch.as_tensor(ds.targets).numpy()  # type: ignore[attr-defined]
    return images, labels, list(ds.classes)  # type: ignore[attr-defined]


def to_unit(
    images: torch.Tensor, labels: np.ndarray, keep: np.ndarray | None
) -> tuple[torch.Tensor, np.ndarray]:
    """Keep the chosen samples and scale uint8 pixels to float32 in [0, 1]."""
    if keep is not None:
        images, labels = images[torch.from_numpy(keep)], labels[keep]
    return images.float().div_(255).contiguous(), labels


def load_vision(
    cls: VisionClass,
    name: str,
    root: str | None,
    download: bool,
    limit: int | None,
    test_limit: int | None,
    options: LoadOptions,
) -> DataBundle:
    """A torchvision dataset as a :class:`DataBundle`; ``limit``/``test_limit`` keep stratified subsets."""
    folder = data_root(root)
    where = options.where
    x, y, classes = read_images(cls, name, folder, True, download, where)
    x_test, y_test, _ = read_images(cls, name, folder, False, False, where)
    x, y = to_unit(x, y, subsample(y, limit, options, classes))
    x_test, y_test = to_unit(x_test, y_test, subsample(y_test, test_limit, options, classes))
    return make_bundle(
        x, y, "image", name, class_names=classes, x_test=x_test, y_test=y_test, **options.kwargs()
    )


@register_dataset("mnist", available=availability("MNIST"))
def mnist(
    root: str | None = None,
    download: bool = False,
    limit: int | None = None,
    test_limit: int | None = None,
    *,
    options: LoadOptions = LoadOptions(),
) -> DataBundle:
    """MNIST digits (LeCun et al., 1998): 60k train / 10k test images (1, 28, 28) in [0, 1]."""
    return load_vision(vision_class("MNIST"), "mnist", root, download, limit, test_limit, options)


@register_dataset("fashion_mnist", aliases=("fashionmnist",), available=availability("FashionMNIST"))
def fashion_mnist(
    root: str | None = None,
    download: bool = False,
    limit: int | None = None,
    test_limit: int | None = None,
    *,
    options: LoadOptions = LoadOptions(),
) -> DataBundle:
    """Fashion-MNIST clothing (Xiao et al., 2017): 60k train / 10k test images (1, 28, 28) in [0, 1]."""
    return load_vision(vision_class("FashionMNIST"), "fashion_mnist", root, download, limit, test_limit, options)


@register_dataset("cifar10", aliases=("cifar-10",), available=availability("CIFAR10"))
def cifar10(
    root: str | None = None,
    download: bool = False,
    limit: int | None = None,
    test_limit: int | None = None,
    *,
    options: LoadOptions = LoadOptions(),
) -> DataBundle:
    """CIFAR-10 (Krizhevsky, 2009): 50k train / 10k test colour images (3, 32, 32) in [0, 1]."""
    return load_vision(vision_class("CIFAR10"), "cifar10", root, download, limit, test_limit, options)
