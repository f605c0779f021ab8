"""General validators of settings: one-line ConfigErrors that say where, what was expected and what was got.

Every floor from the building blocks up checks its arguments with these (encoders, generators, learners).
"""

from __future__ import annotations

from typing import Any, Sequence

from deepfeat.errors import ConfigError
from deepfeat.typecheck import did_you_mean


def check_positive_int(value: Any, where: str) -> int:
    """``value`` if it is an integer >= 1, else a :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: expected a positive integer, got {value!r}")
    return value


def check_seed(value: Any, where: str, draws: str) -> int:
    """``value`` if it is an integer >= 0, else a :class:`ConfigError` that says what the seed ``draws``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: expected an integer >= 0 (it draws {draws}), got {value!r}")
    return value


def check_dropout(rate: float, where: str) -> float:
    """``rate`` if it is a valid dropout probability in [0, 1), else a :class:`ConfigError`."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
        raise ConfigError(f"{where}: expected a dropout rate in [0, 1), got {rate!r}")
    return float(rate)


def check_sizes(sizes: int | Sequence[int], where: str, allow_empty: bool = True) -> tuple[int, ...]:
    """Layer widths as a tuple of positive ints (a single int is one layer)."""
    seq = (sizes,) if isinstance(sizes, int) else sizes
    ok = isinstance(seq, Sequence) and all(
        isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in seq
    )
    if not ok or (not allow_empty and not seq):
        kind = "a" if allow_empty else "a non-empty"
        raise ConfigError(f"{where}: expected {kind} list of positive integers, got {sizes!r}")
    return tuple(seq)


def check_choice(value: Any, choices: Sequence[str], where: str) -> str:
    """``value`` lower-cased if it is one of ``choices``, else a :class:`ConfigError` with suggestions."""
    if isinstance(value, str) and value.lower() in choices:
        return value.lower()
    hint = did_you_mean(value.lower(), list(choices)) if isinstance(value, str) else ""
    raise ConfigError(f"{where}: expected one of {', '.join(choices)}, got {value!r}.{hint}")
