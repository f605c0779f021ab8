"""The dataset registry: every source is chosen by name, as ``"digits"`` or ``{name: mnist, limit: 1000}``.

A source is a factory ``f(**own_args, options: LoadOptions) -> DataBundle``; ``options`` carries the
arguments shared by all sources (seed, split fractions, normalization) and is supplied by
:func:`load_dataset`, so users never write it. Each source also says how to tell whether it can be
loaded here without a download, for ``deepfeat datasets``.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any, Callable

import torch

from deepfeat.data.augment import build_augment
from deepfeat.data.bundle import LoadOptions
from deepfeat.data.splits import DataBundle
from deepfeat.errors import ConfigError
from deepfeat.registry import Registry

DATASETS: Registry[DataBundle] = Registry("dataset", fills=("options",))

# name -> () -> (available offline, where it was found or what is missing)
Availability = Callable[[], tuple[bool, str]]
_AVAILABILITY: dict[str, Availability] = {}
# name -> file suffixes of a folder source (image_folder, audio_folder), so a bare folder path finds its reader
_FOLDER_SUFFIXES: dict[str, tuple[str, ...]] = {}

DATA_ENV = "DEEPFEAT_DATA"
DEFAULT_ROOT = Path("~/.cache/deepfeat/data")


def register_dataset(
    name: str,
    *,
    available: Availability,
    aliases: tuple[str, ...] = (),
    description: str | None = None,
    folder_suffixes: tuple[str, ...] = (),
) -> Callable[[Callable[..., DataBundle]], Callable[..., DataBundle]]:
    """Register a dataset source under ``name`` together with its offline-availability check.

    A source that reads a folder (argument ``root``) names the file suffixes it reads, so a bare folder
    path given to ``deepfeat embed --data`` finds it (:func:`folder_spec`).
    """

    def deco(factory: Callable[..., DataBundle]) -> Callable[..., DataBundle]:
        DATASETS.add(name, factory, aliases=aliases, description=description)
        _AVAILABILITY[name.lower()] = available
        if folder_suffixes:
            _FOLDER_SUFFIXES[name.lower()] = tuple(s.lower() for s in folder_suffixes)
        return factory

    return deco


def folder_spec(folder: Path, prefer: str | None = None) -> dict[str, Any]:
    """``{name, root}`` of the folder source that reads most of the files in ``folder`` and its sub-folders;
    ``prefer`` (a run's own source) wins whenever it reads any of them."""
    paths = [p for p in folder.iterdir()] + [q for p in folder.iterdir() if p.is_dir() for q in p.iterdir()]
    suffixes = [p.suffix.lower() for p in paths if p.is_file()]
    counts = {name: sum(s in ends for s in suffixes) for name, ends in _FOLDER_SUFFIXES.items()}
    preferred = DATASETS.canonical(prefer) if prefer in DATASETS else None
    best = preferred if counts.get(preferred or "", 0) else max(counts, key=counts.__getitem__, default=None)
    if best is None or counts[best] == 0:
        known = ", ".join(f"{n} ({' '.join(e)})" for n, e in _FOLDER_SUFFIXES.items())
        raise ConfigError(f"data folder {folder}: expected files one of the folder datasets reads, got none. "
                          f"Folder datasets: {known}.")
    return {"name": best, "root": str(folder)}


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: ``root``, else ``$DEEPFEAT_DATA``, else ``~/.cache/deepfeat/data``."""
    chosen = root if root is not None else os.environ.get(DATA_ENV) or DEFAULT_ROOT
    return Path(chosen).expanduser()


def load_dataset(
    spec: Any,
    *,
    seed: int = 0,
    val_fraction: float | None = None,
    test_fraction: float = 0.2,
    normalize: bool = True,
    where: str = "data",
    normal_classes: list[int | str] | None = None,
    classes: list[int | str] | None = None,
    score_heldout: bool = True,
    train_classes: list[int | str] | None = None,
    augment: Any = None,
) -> DataBundle:
    """Load a registered dataset as a :class:`DataBundle` (a built bundle is returned unchanged).

    ``val_fraction=None`` (auto) holds out 10% only when that is >= 30 samples (:mod:`deepfeat.data.validation_policy`).
    ``test_fraction`` applies only to sources without their own test split. Splits are seeded and
    stratified; normalization statistics come from the training split. ``classes`` (names or
    indices) keeps only those classes in every split; ``normal_classes`` keeps only those in train
    and val (test keeps all: the one-class setup; ``score_heldout`` adds the other classes' train
    and val samples to test). See :mod:`deepfeat.data.classes`. ``train_classes`` is the former
    name of ``normal_classes``. ``augment`` augments training batches on the training device (see
    :class:`DataBundle`): an augmentation spec, or ``"auto"``: the data kind's label-preserving one
    (:attr:`~deepfeat.data.kinds.DataKind.mild_augment`); ``None``: none.
    """
    if train_classes is not None:
        warnings.warn("load_dataset(train_classes=...) is deprecated: use normal_classes=...", DeprecationWarning,
                      stacklevel=2)
        normal_classes = train_classes if normal_classes is None else normal_classes
    normal = tuple(normal_classes) if normal_classes is not None else None
    subset = tuple(classes) if classes is not None else None
    options = LoadOptions(seed, val_fraction, test_fraction, normalize, where, normal, subset, score_heldout)
    bundle = DATASETS.build(spec, where=where, options=options)
    if (normal is not None or subset is not None) and getattr(bundle.info, "split_classes", None) is None:
        raise ConfigError(
            f"class subset at {where}: expected a labelled in-memory dataset for classes / normal_classes, got "
            f"{spec!r}, which does not support them. Remove them or use another source."
        )
    if augment is not None:
        chosen = bundle.info.kind_spec.mild_augment if augment == "auto" else augment
        bundle = dataclasses.replace(bundle, augment=_fitting(build_augment(chosen, bundle.info.kind, f"{where}.augment"),
                                                              bundle, chosen, f"{where}.augment"))
    return bundle


def _fitting(augment: Any, bundle: DataBundle, spec: Any, where: str) -> Any:
    """``augment`` once tried on two blank samples of the data, so one for another kind fails here, not mid-training."""
    try:
        augment(bundle.info.example(2), torch.Generator().manual_seed(0))
    except (RuntimeError, ValueError, IndexError, TypeError) as exc:
        raise ConfigError(f"augmentation at {where}: expected one for {bundle.info.kind} samples of shape "
                          f"{tuple(bundle.info.input_shape)}, got {spec!r}, which fails on them ({exc}). Use "
                          "augment: auto (the data kind's own) or an augmentation of that kind.") from None
    return augment


def available_datasets() -> list[dict[str, Any]]:
    """For each registered dataset: name, description, whether it loads offline here, and where from."""
    rows = []
    for entry in DATASETS.entries():
        ok, found = _AVAILABILITY[entry.name]()
        rows.append(
            {"name": entry.name, "description": entry.description, "available": ok, "where": found}
        )
    return rows


def always_available(note: str) -> Availability:
    """An availability check for sources that need nothing but their arguments (a path, a package)."""
    return lambda: (True, note)


def importable(module: str) -> Availability:
    """An availability check that succeeds when ``module`` imports."""

    def check() -> tuple[bool, str]:
        try:
            imported = __import__(module)
        except ImportError as exc:
            return False, f"package '{module}' not installed ({exc})"
        return True, f"package '{module}' at {Path(imported.__file__ or '').parent}"

    return check
