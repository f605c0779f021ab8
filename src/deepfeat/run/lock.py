"""One owner per run folder: ``fit`` and ``resume`` hold an OS lock on ``<run>/.lock`` while they run.

The lock is the operating system's lock on the open file (``flock`` on POSIX, ``LockFileEx`` on Windows,
through ``filelock``): the kernel drops it when the holder ends, however it ends (an exception, Ctrl-C,
``kill -9``), so it is never left stale. The file itself stays: deleting it
would let a waiting process and a new one lock two different files of the same name. It holds the
holder's pid while held, for the message a second process gets.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import lock_descriptor, unlock_descriptor

from deepfeat.errors import ConfigError
from deepfeat.layout import CHECKPOINTS_DIR, CONFIG_FILE, METRICS_FILE, MODEL_DIR, RESULTS_FILE, RunPaths

log = logging.getLogger("deepfeat")

# What makes a folder a run: `fit --out` refuses a folder holding any of them.
RUN_FILES = (CONFIG_FILE, METRICS_FILE, RESULTS_FILE, CHECKPOINTS_DIR, MODEL_DIR)


@contextmanager
def run_lock(root: Path | None, fix: str) -> Iterator[None]:
    """Hold ``root/.lock`` (exclusive, non-blocking) for the ``with`` block; ``root=None`` holds nothing.

    Creates ``root``. Raises ConfigError naming the holder's pid, ending with ``fix``, when another
    process holds the lock.
    """
    if root is None:  # under torchrun, ranks other than 0 leave the folder to rank 0
        yield
        return
    root = Path(root)
    make_folder(root, f"run folder {root}")
    path = RunPaths(root).lock
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        locked = _lock(fd, path, fix)
    except BaseException:
        os.close(fd)
        raise
    try:
        if locked:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        if locked:
            os.ftruncate(fd, 0)  # a pid left behind would name a process that no longer owns the folder
            # Unlocked explicitly: a process forked inside the block (a DataLoader worker that outlives it) shares
            # the open file, and closing our copy alone would leave the folder locked for as long as it lives.
            unlock_descriptor(fd)
        os.close(fd)


def check_unlocked(root: Path, fix: str) -> None:
    """ConfigError, as :func:`run_lock` raises it, when another process holds ``root``'s lock; creates nothing."""
    check_folder_path(Path(root), f"run folder {root}")
    path = RunPaths(Path(root)).lock
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # never locked: nobody holds it
        return
    try:
        _lock(fd, path, fix)
    finally:
        os.close(fd)


def check_folder_path(folder: Path, what: str) -> None:
    """ConfigError when no folder can be made at ``folder``, as it or a folder it would be in is a file (the
    operating system's NotADirectoryError names neither); ``what`` starts the message (``run folder runs/x``)."""
    for path in (folder, *folder.parents):
        if path.is_dir():
            return
        if path.exists() or path.is_symlink():
            raise ConfigError(f"{what}: expected a folder {folder} (or a path where one can be created), got "
                              f"{path}, which is not a folder. Use another --out.")


def make_folder(folder: Path, what: str) -> None:
    """Create ``folder`` (and the folders above it), after :func:`check_folder_path`."""
    check_folder_path(folder, what)
    folder.mkdir(parents=True, exist_ok=True)


def _lock(fd: int, path: Path, fix: str) -> bool:
    """Take the lock; False where the file system has no locks (the run goes on unlocked, with a warning)."""
    try:
        held_by_another = not lock_descriptor(fd, blocking=False)
    except OSError as e:  # e.g. ENOLCK on some network file systems: run unlocked rather than not at all
        log.warning(f"could not lock {path} ({e.strerror}); two deepfeat processes could write this run folder at once")
        return False
    if held_by_another:
        raise ConfigError(f"run folder {path.parent} is in use by another deepfeat process (pid {_holder(path)}). "
                          f"{fix}")
    return True


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def refuse_existing_run(root: Path) -> None:
    """ConfigError when ``root`` already holds a run's files: a new run there would mix with the old one."""
    paths = RunPaths(Path(root))
    found = [name for name in RUN_FILES if (paths.root / name).exists()]
    if found:
        fix = f"Use another --out (or `deepfeat resume {root}` if that run was interrupted)." if paths.last.is_file() \
            else "It has no checkpoint to resume from: use another --out, or delete the folder first."
        raise ConfigError(f"run folder {root} already holds a run ({', '.join(found)}): expected a new or empty "
                          f"folder for --out. {fix}")
