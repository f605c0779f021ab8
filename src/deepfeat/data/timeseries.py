"""Sequence datasets: procedurally generated MNIST-1D and the UCR/UEA archive through aeon.

Both keep their source's own train/test split, so results compare with published numbers.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

from deepfeat.data.bundle import LoadOptions, encode_labels, make_bundle
from deepfeat.data.datasets import data_root, importable, register_dataset
from deepfeat.data.ragged import Unequal, check_unequal, is_ragged, pad_series, real_stats, resample_series
from deepfeat.data.splits import DataBundle
from deepfeat.errors import DataError
from deepfeat.extras import load


@register_dataset("mnist1d", aliases=("mnist-1d",), available=importable("mnist1d"))
def mnist1d(
    num_samples: int = 5000, data_seed: int = 42, *, options: LoadOptions = LoadOptions()
) -> DataBundle:
    """MNIST-1D (Greydanus, 2020): sequences (1, 40) of 10 digit templates, 80/20 train/test.

    Generated locally by the ``mnist1d`` package; the defaults reproduce the published dataset.
    """
    mnist1d = load("mnist1d.data", "timeseries", "dataset 'mnist1d'")
    args = mnist1d.get_dataset_args()
    args.num_samples, args.seed = num_samples, data_seed
    # make_dataset reseeds Python's and numpy's global generators; restore them so that loading
    # data does not change the randomness of the caller.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        raw = mnist1d.make_dataset(args)
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
    return Path(load("aeon.datasets", "timeseries", "dataset 'ucr'").__file__).parent / "data"


def _problem_files(folder: Path, name: str) -> tuple[Path, Path] | None:
    """``<name>_TRAIN.ts`` and ``_TEST.ts`` under ``folder/<name>/``, or for an ``X_eq`` name (the
    equal-length copies aeon ships, e.g. JapaneseVowels_eq) under ``folder/X/``; None if absent."""
    for sub in (name, name[: -len("_eq")] if name.endswith("_eq") else None):
        if sub is None:
            continue
        train, test = folder / sub / f"{name}_TRAIN.ts", folder / sub / f"{name}_TEST.ts"
        if train.is_file() and test.is_file():
            return train, test
    return None


def _has_problem(folder: Path, name: str) -> bool:
    return _problem_files(folder, name) is not None


def _ucr_available() -> tuple[bool, str]:
    ok, note = importable("aeon")()
    if not ok:
        return ok, note
    bundled = _aeon_bundled()
    names = sorted(p.name for p in bundled.iterdir() if _has_problem(bundled, p.name))
    return True, f"{bundled} ({len(names)} problems shipped with aeon, e.g. {', '.join(names[:4])})"


def read_ucr(name: str, root: Path | None = None, download: bool = False,
             where: str = "dataset 'ucr'") -> tuple[Any, ...]:
    """(x_train, y_train, x_test, y_test) of a UCR/UEA problem as its files hold it (no standardizing, string
    labels), shipped with aeon or under ``root`` (default ``data_root()/ucr``); x is (N, C, T), or a list of
    (C, T_i) arrays for a problem of unequal lengths. ``where`` names the config key in errors."""
    root = data_root() / "ucr" if root is None else root
    aeon = load("aeon.datasets", "timeseries", f"dataset 'ucr' at {where}")
    files = _problem_files(_aeon_bundled(), name) or _problem_files(root, name)
    if files is None and not download:
        raise DataError(
            f"UCR/UEA problem '{name}' at {where}.problem: expected {name}_TRAIN.ts and {name}_TEST.ts "
            f"shipped with aeon or in {root / name}, got neither. Use a shipped problem (GunPoint, "
            f"BasicMotions, ...; see `deepfeat datasets`), put the files there, or set download: true."
        )
    try:
        if files is not None:
            (x, y), (x_test, y_test) = (aeon.load_from_ts_file(str(f)) for f in files)
        else:
            x, y = aeon.load_classification(name, split="train", extract_path=str(root))
            x_test, y_test = aeon.load_classification(name, split="test", extract_path=str(root))
    except (ValueError, OSError) as exc:
        raise DataError(
            f"UCR/UEA problem '{name}' at {where}: expected a loadable classification problem, got: "
            f"{exc}. Check the name (case matters), the network, and the files in {root / name}."
        ) from exc
    return x, y, x_test, y_test


def _equal_length(x: Any, x_test: Any, unequal: Unequal, normalize: bool) -> tuple[np.ndarray, np.ndarray, Any]:
    """Train and test series as (N, C, T) arrays of one length T, and the (mean, std) already applied
    (None: left to make_bundle). Unequal lengths are padded or resampled (:mod:`deepfeat.data.ragged`)."""
    if not is_ragged(x) and not is_ragged(x_test) and x.shape[2] == x_test.shape[2]:
        return x, x_test, None
    length = max(np.asarray(s).shape[-1] for s in [*x, *x_test])
    if unequal == "resample":
        return resample_series(x, length), resample_series(x_test, length), None
    channels = np.asarray(x[0]).shape[0]
    mean, std = real_stats(list(x)) if normalize else (np.zeros(channels), np.ones(channels))
    return pad_series(list(x), length, mean, std), pad_series(list(x_test), length, mean, std), (mean, std)


@register_dataset("ucr", aliases=("uea",), available=_ucr_available)
def ucr(
    problem: str = "GunPoint",
    root: str | None = None,
    download: bool = False,
    unequal: str = "pad",
    *,
    options: LoadOptions = LoadOptions(),
) -> DataBundle:
    """A UCR/UEA time-series classification problem (Dau et al., 2019) as sequences (C, T).

    Problems shipped with aeon (GunPoint, BasicMotions, ...) load offline, and so do the equal-length
    copies aeon ships by name (``JapaneseVowels_eq``); others are read from ``<root>/<problem>/`` (root
    defaults to ``data_root()/ucr``) or fetched by aeon with ``download``. Problems of unequal lengths
    (JapaneseVowels, PickupGestureWiimoteZ) are made one length T by ``unequal``: ``pad`` (zeros at the
    end after standardizing; the time-series encoders pool over the real steps only) or ``resample``.
    """
    unequal = check_unequal(unequal, options.where)
    folder = data_root(root) if root is not None else data_root() / "ucr"
    x, y, x_test, y_test = read_ucr(problem, folder, download, options.where)
    x, x_test, stats = _equal_length(x, x_test, unequal, options.normalize)
    (codes, test_codes), classes = encode_labels(y, y_test)
    kwargs = {**options.kwargs(), **({"normalize": False} if stats is not None else {})}
    bundle = make_bundle(x, codes, "sequence", f"ucr/{problem}", class_names=classes, x_test=x_test,
                         y_test=test_codes, **kwargs)
    if stats is not None and options.normalize:  # standardized before padding, with the same statistics
        bundle.info.mean, bundle.info.std = stats[0].tolist(), stats[1].tolist()
    return bundle
