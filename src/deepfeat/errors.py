"""The library's exception types.

Every error deepfeat raises on purpose is a :class:`DeepfeatError`, so the CLI can print it as one
line and exit 2. Messages follow ``<what> at <where>: expected <X>, got <Y>. <how to fix>.``
"""

from __future__ import annotations


class DeepfeatError(Exception):
    """Base class of every error deepfeat raises on purpose."""


class ConfigError(DeepfeatError, ValueError):
    """A config, a name or an argument is wrong (unknown key, unknown name, wrong type)."""


class UnknownNameError(ConfigError):
    """A name no registry holds; ``kind`` (``"encoder"``) and ``name`` say which, so the loader of a saved run can
    say to import the module that registers it instead of suggesting a look-alike."""

    def __init__(self, message: str, kind: str = "", name: str = "") -> None:
        super().__init__(message)
        self.kind, self.name = kind, name


class DataError(DeepfeatError, ValueError):
    """Input data is unusable: wrong shape or dtype, NaN/inf, empty, labels out of range, missing files."""


class CheckpointError(DeepfeatError):
    """A checkpoint or exported model cannot be read or does not match the model."""


class TrainingError(DeepfeatError):
    """Training cannot go on (for example, repeated non-finite losses)."""


class DiskFullError(DeepfeatError, OSError):
    """A file could not be written: no space left on the device (or the user's quota is spent)."""


class RunPruned(DeepfeatError):
    """A search stopped this run early because its validation metric was not promising (status "pruned")."""
