"""Sequence datasets: procedurally generated MNIST-1D and the UCR/UEA archive through aeon.

Both keep their source's own train/test split, so results compare with published numbers.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from deepfeat.data.bundle import LoadOptions, encode_labels, make_bundle
from deepfeat.data.datasets import data_root, importable, register_dataset
from deepfeat.data.splits import DataBundle
from deepfeat.errors import DataError


@register_dataset("mnist1d", aliases=("mnist-1d",), available=importable("mnist1d"))
def mnist1d(
    num_samples: int = 5000, data_seed: int = 42, *, options: LoadOptions = LoadOptions()
) -> DataBundle:
    """MNIST-1D (Greydanus, 2020): sequences (1, 40) of 10 digit templates, 80/20 train/test.

    Generated locally by the ``mnist1d`` package; the defaults reproduce the published dataset.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed = num_samples, data_seed
    # make_dataset reseeds Python's and numpy's global generators; restore them so that loading
    # data does not change the randomness of the caller.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        raw = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return make_bundle(
        raw["x"][:, None, :],
        raw["y"],
        "sequence",
        "mnist1d",
        class_names=[str(d) for d in range(10)],
        x_test=raw["x_test"][:, None, :],
        y_test=raw["y_test"],
        **options.kwargs(),
    )


def _aeon_bundled() -> Path:
    import aeon.datasets

    return Path(aeon.datasets.__file__).parent / "data"


def _has_problem(folder: Path, name: str) -> bool:
    return (folder / name / f"{name}_TRAIN.ts").is_file() and (folder / name / f"{name}_TEST.ts").is_file()


def _ucr_available() -> tuple[bool, str]:
    ok, note = importable("aeon")()
    if not ok:
        return ok, note
    bundled = _aeon_bundled()
    names = sorted(p.name for p in bundled.iterdir() if _has_problem(bundled, p.name))
    return True, f"{bundled} ({len(names)} problems shipped with aeon, e.g. {', '.join(names[:4])})"


def _read_ucr(name: str, root: Path, download: bool, where: str) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test) of a UCR/UEA problem, shipped with aeon or under ``root``."""
    from aeon.datasets import load_classification

    if _has_problem(_aeon_bundled(), name):
        extract_path = None
    elif _has_problem(root, name) or download:
        extract_path = str(root)
    else:
        raise DataError(
            f"UCR/UEA problem '{name}' at {where}.problem: expected {name}_TRAIN.ts and {name}_TEST.ts "
            f"shipped with aeon or in {root / name}, got neither. Use a shipped problem (GunPoint, "
            f"BasicMotions, ...; see `deepfeat datasets`), put the files there, or set download: true."
        )
    try:
        x, y = load_classification(name, split="train", extract_path=extract_path)
        x_test, y_test = load_classification(name, split="test", extract_path=extract_path)
    except (ValueError, OSError) as exc:
        raise DataError(
            f"UCR/UEA problem '{name}' at {where}: expected a loadable classification problem, got: "
            f"{exc}. Check the name (case matters), the network, and the files in {root / name}."
        ) from exc
    if not all(isinstance(a, np.ndarray) and a.ndim == 3 for a in (x, x_test)):
        raise DataError(
            f"UCR/UEA problem '{name}' at {where}: expected equal-length series (N, C, T), got series of "
            "different lengths. Pick an equal-length problem or pad the series yourself and use 'arrays'."
        )
    return x, y, x_test, y_test


@register_dataset("ucr", aliases=("uea",), available=_ucr_available)
def ucr(
    problem: str = "GunPoint",
    root: str | None = None,
    download: bool = False,
    *,
    options: LoadOptions = LoadOptions(),
) -> DataBundle:
    """A UCR/UEA time-series classification problem (Dau et al., 2019) as sequences (C, T).

    Problems shipped with aeon (GunPoint, BasicMotions, ...) load offline; others are read from
    ``<root>/<problem>/`` (root defaults to ``data_root()/ucr``) or fetched by aeon with ``download``.
    """
    folder = data_root(root) if root is not None else data_root() / "ucr"
    x, y, x_test, y_test = _read_ucr(problem, folder, download, options.where)
    (codes, test_codes), classes = encode_labels(y, y_test)
    return make_bundle(
        x, codes, "sequence", f"ucr/{problem}", class_names=classes, x_test=x_test, y_test=test_codes,
        **options.kwargs(),
    )
