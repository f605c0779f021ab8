"""Atomic file writes: a reader, or a run resumed after a kill, never sees half a file.

A bottom-floor module: checkpoints, run files, figures and the report are all written through it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from deepfeat.errors import DiskFullError


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask is a global set)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers never see a half-written file.

    The file gets the mode a plain ``open`` would give (``0o666`` less the umask), not mkstemp's 0600,
    and is flushed to disk before the rename so a power cut cannot leave an empty file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if is_disk_full(error):
            free = shutil.disk_usage(path.parent).free
            raise DiskFullError(errno.ENOSPC, f"could not write {path}: no space left on device ({free} bytes free). "
                                "Free some space, then run the command again (`deepfeat resume RUN` finishes an "
                                "interrupted run without training again).") from None
        raise


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` says the disk (or the user's quota) is full, however the writing library put it."""
    text = str(error)
    # torch's zip writer reports a short write as "[enforce fail at inline_container.cc...]".
    return getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "no space left" in text.lower() \
        or (isinstance(error, RuntimeError) and "inline_container" in text)


def file_sha256(path: Path) -> str:
    """The hex sha256 of the file at ``path``, read in 1 MiB blocks (memory stays flat whatever its size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
