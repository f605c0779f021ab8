"""The example configs that ship inside the package: their index, and copying one out.

A plain ``pip install deepfeat`` has no clone to read ``examples/configs/`` from, so the configs travel
as package data (``deepfeat/examples/``, the clone's ``examples/configs/`` linked there: one copy).
Each config's first line, ``# description: <one line>``, is the only description kept: ``deepfeat
examples`` and the clone's ``examples/README.md`` are both generated from it.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from deepfeat.errors import ConfigError
from deepfeat.typecheck import did_you_mean

PREFIX = "# description: "
README_HEAD = ("# Example configs\n\n"
               "Generated from each config's `# description:` line by `deepfeat examples --markdown`; do not edit by hand.\n"
               "They ship with the package: `deepfeat examples` lists them and `deepfeat examples copy NAME` copies one "
               "into the current folder, so `deepfeat fit -c NAME.yaml` works outside a clone too.\n\n"
               "| config | what it runs |\n| --- | --- |\n")


def folder() -> Path:
    """The installed example configs' folder (inside the package, or the clone's ``examples/configs``)."""
    return Path(str(resources.files("deepfeat") / "examples"))


def index() -> dict[str, str]:
    """``{name: description}`` of every shipped example config, sorted by name."""
    paths = sorted(folder().glob("*.yaml"))
    if not paths:  # e.g. a clone made where symbolic links are not kept: deepfeat/examples is no folder then
        raise ConfigError(f"example configs at {folder()}: expected *.yaml files, got none. Reinstall deepfeat, "
                          f"or clone with symbolic links kept.")
    return {path.stem: _description(path) for path in paths}


def _description(path: Path) -> str:
    with path.open(encoding="utf-8") as f:
        first = f.readline().rstrip("\n")
    if not first.startswith(PREFIX) or not first[len(PREFIX):].strip():
        raise ConfigError(f"example config at {path}: expected a first line '{PREFIX}<one line>', got {first!r}. "
                          f"Add the description line.")
    return first[len(PREFIX):].strip()


def index_text() -> str:
    """One line per example: its name and description, for the terminal."""
    entries = index()
    width = max(map(len, entries))
    return "\n".join(f"{name:<{width}}  {text}" for name, text in entries.items())


def index_markdown() -> str:
    """The clone's ``examples/README.md``: a table of every example, linked to its file."""
    rows = "".join(f"| [{name}](configs/{name}.yaml) | {text} |\n" for name, text in index().items())
    return README_HEAD + rows


def copy(name: str, to: Path) -> Path:
    """Copy the example ``name`` (with or without ``.yaml``) into the folder ``to``; never overwrites a file."""
    name = name.removesuffix(".yaml")
    names = list(index())
    if name not in names:
        raise ConfigError(f"example at deepfeat examples copy: expected one of {', '.join(names)}, got '{name}'."
                          f"{did_you_mean(name, names)} See them with: deepfeat examples.")
    target = Path(to) / f"{name}.yaml"
    if target.exists():
        raise ConfigError(f"example at {target}: expected no file there, got one. Remove it, or copy elsewhere "
                          f"with --to DIR.")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder() / f"{name}.yaml", target)
    return target
