"""Crash-safe checkpoints: written to a temporary file in the same folder, then atomically renamed.

A checkpoint holds what an exact resume needs (model, optimizers, schedulers, RNG states, epoch,
step, callback state) and the resolved config. Loading uses ``weights_only=True``: a checkpoint can
hold tensors and plain data, never code. Each checkpoint gets a ``<name>.sha256`` sidecar (the
``sha256sum`` format) so a file changed after it was written is refused instead of resumed from.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepfeat.atomic import atomic_write, file_sha256, is_disk_full
from deepfeat.errors import CheckpointError

# mkstemp's temporaries, as atomic_write names them: ".<name>.<8 random chars>.tmp".
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
# Each checkpoint's stand-in when it cannot be used (ModelCheckpoint writes these two).
_ALTERNATIVES = {"last.pt": "best.pt", "best.pt": "last.pt"}


def remove_stale_temps(folder: Path, recursive: bool = True, older_than_s: float = 0.0) -> list[Path]:
    """Delete the ``.<name>.*.tmp`` files an interrupted :func:`atomic_write` left in ``folder``.

    Only names of atomic_write's exact pattern are touched; ``older_than_s`` spares temporaries a
    live writer may still be filling. Returns the removed paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp")
    cutoff = time.time() - older_than_s
    removed = []
    for p in found:
        if _TEMP_NAME.match(p.name) and p.is_file() and p.stat().st_mtime <= cutoff:
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def checksum_path(path: Path) -> Path:
    """The sidecar holding ``path``'s sha256: ``last.pt`` -> ``last.pt.sha256``."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def write_checksum(path: Path) -> str:
    """Write ``<path>.sha256`` (atomically, ``sha256sum -c`` format) for the file at ``path``; return the hex digest."""
    path = Path(path)
    digest = file_sha256(path)
    atomic_write(checksum_path(path), lambda tmp: Path(tmp).write_text(f"{digest}  {path.name}\n"))
    return digest


def write_verified(path: Path, write: Any) -> str:
    """:func:`atomic_write` ``path`` through ``write(tmp_path)``, then its ``.sha256`` sidecar; returns the sha256."""
    path = Path(path)

    def write_then_drop_sum(tmp: str) -> None:
        write(tmp)
        # Drop the old sum before the new file lands: a crash between the two steps then leaves a file
        # without a sidecar (loaded unchecked), never a good file with a stale sum (refused).
        checksum_path(path).unlink(missing_ok=True)

    atomic_write(path, write_then_drop_sum)
    return write_checksum(path)


def verify_checksum(path: Path, alternative: Path | None = None, what: str = "checkpoint",
                    fix: str | None = None) -> bool:
    """Check ``path`` against its ``.sha256`` sidecar: True when it matches, False when there is no sidecar.

    Files written before sidecars existed have none and pass unchecked. A mismatch raises
    CheckpointError ending with ``fix``, or else naming ``alternative`` (another copy to use instead)
    when it exists.
    """
    path = Path(path)
    sidecar = checksum_path(path)
    if not sidecar.is_file():
        return False
    expected = sidecar.read_text().split()[:1]
    if expected == [file_sha256(path)]:
        return True
    raise CheckpointError(f"{what} {path} failed its checksum (the file changed after it was written; expected sha256 "
                          f"{''.join(expected)[:12]}..., recorded in {sidecar.name}). {fix or _instead(alternative)}")


def _instead(alternative: Path | None) -> str:
    if alternative is not None and Path(alternative).is_file():
        return f"Resume from {alternative} or retrain."
    return "Retrain, or restore the file from a copy."


def _alternative(path: Path) -> Path | None:
    other = _ALTERNATIVES.get(path.name)
    return path.with_name(other) if other and path.with_name(other).is_file() else None


def all_finite(model: nn.Module) -> bool:
    """True when every parameter and floating buffer is finite (never checkpoint NaN weights)."""
    tensors = list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def save_checkpoint(path: Path, state: dict[str, Any]) -> str:
    """Atomically save a checkpoint dict (tensors and plain Python data only) and its ``.sha256`` sidecar;
    returns the file's sha256.

    A failed write (disk full, say) leaves the previous checkpoint and its sidecar as they were.
    """
    path = Path(path)
    state = {**state, CONTENT_KEY: content_digest(state)}
    try:
        return write_verified(path, lambda tmp: torch.save(state, tmp))
    except (OSError, RuntimeError) as e:
        error = _write_error(path, e)
        if error is None:
            raise
        raise error from e


def _write_error(path: Path, error: OSError | RuntimeError) -> CheckpointError | None:
    """One CheckpointError for a failed checkpoint write; None for a RuntimeError that is not about the disk."""
    free = shutil.disk_usage(path.parent).free if path.parent.is_dir() else 0
    text = str(error)
    if is_disk_full(error):
        return CheckpointError(f"could not write checkpoint {path}: no space left on device ({free} bytes free). "
                               "Free space or set training.checkpoint_every higher.")
    if isinstance(error, OSError):
        return CheckpointError(f"could not write checkpoint {path}: {error.strerror or text}. "
                               "Check that the run folder exists and is writable.")
    return None


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``), verified against its sidecar when it has one.

    CheckpointError when it is missing, empty, truncated, changed since written, or holds code.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint at {path}: expected a file, found none. Check the run folder.")
    other = _alternative(path)
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): it was cut off while being written. {_instead(other)}")
    verify_checksum(path, other)
    try:
        # weights_only passed explicitly: TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD then cannot switch it off.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a bad file; each becomes one message
        raise _read_error(path, e, other) from None
    expected = state.pop(CONTENT_KEY, None) if isinstance(state, dict) else None
    if expected is not None and expected != content_digest(state):  # checkpoints from before the digest have none
        raise CheckpointError(f"checkpoint {path}: its content does not match the digest written with it (the file "
                              f"changed after it was written). {_instead(other)}")
    return state


# A checkpoint carries the sha256 of its own content, so it is verified even where its sidecar is lost.
CONTENT_KEY = "content_sha256"


def content_digest(state: Any) -> str:
    """sha256 of a checkpoint's content: every tensor's dtype, shape and bytes and every plain value, in a fixed
    order; the same before ``torch.save`` and after ``torch.load``."""
    digest = hashlib.sha256()

    def walk(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            flat = value.detach().cpu().reshape(-1)
            digest.update(f"T{flat.dtype}{tuple(value.shape)}".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
        elif isinstance(value, dict):
            digest.update(b"{")
            for key in sorted(value, key=repr):
                digest.update(repr(key).encode())
                walk(value[key])
            digest.update(b"}")
        elif isinstance(value, (list, tuple)):
            digest.update(b"[" if isinstance(value, list) else b"(")
            for item in value:
                walk(item)
            digest.update(b"]")
        else:
            digest.update(repr(value).encode())

    walk(state)
    return digest.hexdigest()


def _read_error(path: Path, error: Exception, other: Path | None) -> CheckpointError:
    """Say why torch could not read ``path``, without torch's advice to load with ``weights_only=False``."""
    text = str(error)
    if isinstance(error, pickle.UnpicklingError) and "Weights only load failed" in text:
        found = re.search(r"GLOBAL (\S+)", text)
        names = f" ({found.group(1)})" if found else ""
        return CheckpointError(f"checkpoint {path} holds objects other than tensors and plain data{names}; deepfeat "
                               "refuses to unpickle code from a file. Use a checkpoint written by deepfeat, or retrain.")
    if isinstance(error, EOFError) or not zipfile.is_zipfile(path):
        return CheckpointError(f"checkpoint {path} is truncated or not a checkpoint ({path.stat().st_size} bytes, "
                               f"no complete zip archive). {_instead(other)}")
    first = text.splitlines()[0][:200] if text else type(error).__name__
    return CheckpointError(f"checkpoint {path}: cannot be read ({first}). It may be damaged or not a deepfeat "
                           f"checkpoint. {_instead(other)}")
