"""Class subsets: a task on some classes of a dataset (``classes``) and the one-class setup (``normal_classes``).

``classes: [5, 6, 7, 8, 9]`` (indices) or ``classes: ["cat", "dog"]`` (names) keeps those classes in
every split, train, validation and test, and renumbers them 0..K-1 in the order given: a classifier
trained on them has K outputs and is tested on those classes only. ``normal_classes`` (formerly
``train_classes``) keeps its classes in train and validation only; the test split keeps every class and
the others are the anomalies. With ``score_heldout`` (the default) the held-out classes' samples from
the training and validation parts join the test split too, so every anomalous sample is scored
(Ruff et al. 2018 score the whole test set; here nothing a one-class run never trains on is wasted).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepfeat.errors import ConfigError
from deepfeat.registry import did_you_mean


def resolve_classes(classes: Sequence[int | str], names: Sequence[str], where: str) -> list[int]:
    """Class indices of ``classes`` given by index (an int) or by name (a string; a digit string that is
    not a name counts as an index). Fails with the valid names on anything else."""
    names = [str(n) for n in names]
    if not names or not len(classes):
        raise ConfigError(f"classes at {where}: expected a non-empty list of class names or indices of a labelled "
                          f"dataset, got {list(classes)!r}{'' if names else ' for unlabelled data'}.")
    out = []
    for c in classes:
        if isinstance(c, str) and c in names:
            out.append(names.index(c))
        elif isinstance(c, (int, np.integer)) or (isinstance(c, str) and c.strip().lstrip("-").isdigit()):
            out.append(int(c))
        else:
            hint = did_you_mean(str(c), names)
            raise ConfigError(f"classes at {where}: expected class names or indices 0..{len(names) - 1}, got {c!r}. "
                              f"The classes are {', '.join(names[:20])}{' ...' if len(names) > 20 else ''}.{hint}")
        if not 0 <= out[-1] < len(names):
            raise ConfigError(f"classes at {where}: expected class indices in 0..{len(names) - 1}, got {c!r}.")
    if len(set(out)) != len(out):
        raise ConfigError(f"classes at {where}: expected each class once, got {list(classes)!r}.")
    return out


def renumber(labels: np.ndarray, kept: Sequence[int], num_classes: int) -> np.ndarray:
    """``labels`` (N,) with class ``kept[i]`` renamed ``i``; every other class becomes -1."""
    table = np.full(num_classes, -1, dtype=np.int64)
    table[np.asarray(kept, dtype=np.int64)] = np.arange(len(kept))
    return table[labels]


def split_classes(labels: dict[str, np.ndarray], names: Sequence[str]) -> dict[str, list[str]]:
    """Which class names each split holds: ``{"train": [...], "val": [...], "test": [...]}`` (empty splits left out)."""
    return {split: [str(names[c]) for c in np.unique(y)] for split, y in labels.items() if len(y)}
