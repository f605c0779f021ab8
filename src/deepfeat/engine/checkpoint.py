"""Crash-safe checkpoints: written to a temporary file in the same folder, then atomically renamed.

A checkpoint holds what an exact resume needs (model, optimizers, schedulers, RNG states, epoch,
step, callback state) and the resolved config. Loading uses ``weights_only=True``: a checkpoint can
hold tensors and plain data, never code.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepfeat.errors import CheckpointError


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def all_finite(model: nn.Module) -> bool:
    """True when every parameter and floating buffer is finite (never checkpoint NaN weights)."""
    tensors = list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically save a checkpoint dict (tensors and plain Python data only)."""
    atomic_write(Path(path), lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``); CheckpointError when missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint at {path}: expected a file, found none. Check the run folder.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"checkpoint at {path}: cannot be read ({e}). It may be truncated or not a deepfeat checkpoint.") from e
