"""What a folder source may read: only files inside its data root, and only files that decode.

A data root is a boundary: a symbolic link (to a class folder or to a file) that resolves outside the
root is refused unless ``follow_symlinks: true``, so a link planted in a shared data folder cannot make
a run read ``/etc/passwd`` or another user's files. Links that stay inside the root are followed.

Every file of a streamed folder is checked before training starts (a cheap check, see each source),
so a bad file is one :class:`DataError` naming it instead of a traceback an hour into an epoch.
``on_error: fail`` (the default) raises for the first bad file; ``on_error: skip`` leaves the bad files
out, logs how many, and records them in ``DataInfo.skipped`` (results.json's data summary).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Literal, Sequence

from deepfeat.errors import DataError

log = logging.getLogger("deepfeat")

OnError = Literal["fail", "skip"]  # checked against this annotation wherever a source is built by name


def check_inside(paths: Sequence[Path], root: Path, where: str, follow_symlinks: bool) -> None:
    """:class:`DataError` naming the first link under ``root`` that leads out of it (unless ``follow_symlinks``).

    ``paths`` are the files found under ``root``; ``where`` is the data section (``"data"``).
    """
    if follow_symlinks:
        return
    real_root = root.resolve()
    for path in paths:
        if not path.resolve().is_relative_to(real_root):
            link = _outbound_link(path, root, real_root)
            raise DataError(
                f"symbolic link {link} at {where}: expected a target inside the data root {real_root}, got "
                f"{link.resolve()}. Copy the data into the root, or set {where}.follow_symlinks: true to read "
                "through links that leave it."
            )


def _outbound_link(path: Path, root: Path, real_root: Path) -> Path:
    """The first component of ``path`` below ``root`` that is a link resolving outside ``real_root``."""
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        if current.is_symlink() and not current.resolve().is_relative_to(real_root):
            return current
    return path


def first_line(exc: BaseException) -> str:
    """An exception's message as one short line (its type's name when it has none)."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def screen(files: Sequence[Path], check: Callable[[Path], object], on_error: OnError,
           where: str) -> tuple[list[int], list[str]]:
    """Indices of the ``files`` that pass ``check`` (which raises :class:`DataError` for a bad file) and the
    bad files' paths. With ``on_error: fail`` the first bad file raises, with the count of bad files."""
    kept: list[int] = []
    bad: list[tuple[Path, DataError]] = []
    for i, path in enumerate(files):
        try:
            check(path)
        except DataError as exc:
            bad.append((path, exc))
        else:
            kept.append(i)
    if bad and on_error == "fail":
        others = f" {len(bad) - 1} more files are bad too." if len(bad) > 1 else ""
        raise DataError(f"{str(bad[0][1]).rstrip('.')}; or set {where}.on_error: skip to leave bad files out.{others}")
    if bad:
        log.warning(f"{where}: skipped {len(bad)} of {len(files)} files that cannot be read (on_error: skip), "
                    f"first {bad[0][0]}; the list is in results.json (data.skipped)")
    return kept, [str(path) for path, _ in bad]
