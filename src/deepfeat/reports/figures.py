"""Saving figures into a run directory: the one way any capability adds a plot to the report.

``save_figure`` writes ``plots/<name>.png`` and records its title, caption and report section in
``plots/index.json``; :func:`deepfeat.reports.write_report` reads that index, so a new capability
(autoencoder reconstructions, GAN samples, diagnostics) shows up in the report without touching it.

Figures are built as ``matplotlib.figure.Figure`` objects on the non-interactive Agg canvas, never
through pyplot: no GUI backend is needed, the user's own backend choice (e.g. Jupyter's inline one)
is left alone, and nothing leaks into pyplot's global figure list. ``house_style`` gives one look.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from deepfeat.atomic import atomic_write
from deepfeat.errors import ConfigError
from deepfeat.layout import PLOTS_DIR

INDEX_FILE = "index.json"
DPI = 110

# Colour-blind-safe categorical palette (matplotlib's tab10, Tableau 10).
PALETTE = tuple(matplotlib.colormaps["tab10"].colors)

STYLE: dict[str, Any] = {
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "figure.titlesize": 12,
    "figure.titleweight": "bold",
    "figure.facecolor": "white",
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "lines.linewidth": 1.8,
    "image.cmap": "viridis",
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
F = TypeVar("F", bound=Callable[..., Any])


def house_style(fn: F) -> F:
    """Decorator: run a figure-building function under :data:`STYLE`.

    Matplotlib reads rcParams when each artist is created, so the whole body must run inside the
    context, not only the ``Figure`` constructor.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def new_figure(width: float, height: float) -> Figure:
    """A blank figure of ``width`` x ``height`` inches, constrained layout, on an Agg canvas."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def read_index(run_dir: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The entries of ``plots/index.json`` in insertion order; ``[]`` when there is none."""
    path = Path(run_dir) / PLOTS_DIR / INDEX_FILE
    if not path.is_file():
        return []
    entries = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ConfigError(
            f"plot index at {path}: expected a JSON list of entries, got {type(entries).__name__}. "
            "Delete the file and save the figures again."
        )
    return entries


def save_figure(
    fig: Figure,
    run_dir: str | os.PathLike[str],
    name: str,
    *,
    title: str,
    caption: str,
    section: str = "Training",
) -> Path:
    """Save ``fig`` as ``run_dir/plots/<name>.png``, close it and record it in ``plots/index.json``.

    An entry with the same ``name`` is replaced in place, so re-plotting keeps the report's order.
    Returns the PNG's path.
    """
    check_name(name, "save_figure")
    plots = Path(run_dir) / PLOTS_DIR
    plots.mkdir(parents=True, exist_ok=True)
    png = plots / f"{name}.png"
    atomic_write(png, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight", facecolor="white"))
    _close(fig)

    add_index_entry(run_dir, {"name": name, "file": png.name, "title": title, "caption": caption, "section": section})
    return png


def check_name(name: str, where: str) -> str:
    """``name`` when it is a plain file stem (letters, digits, ``_ . -``), else a :class:`ConfigError`."""
    if not _NAME.match(name):
        raise ConfigError(f"figure name at {where}: expected letters, digits, '_', '.' or '-', got {name!r}. "
                          "Use a plain file stem such as 'training_curves'.")
    return name


def add_index_entry(run_dir: str | os.PathLike[str], entry: dict[str, Any]) -> None:
    """Record ``entry`` (``name``, ``title``, ``caption``, ``section`` and its files) in ``plots/index.json``.

    An entry with the same ``name`` is replaced in place, so re-plotting keeps the report's order.
    """
    plots = Path(run_dir) / PLOTS_DIR
    plots.mkdir(parents=True, exist_ok=True)
    entries = read_index(run_dir)
    names = [e.get("name") for e in entries]
    if entry["name"] in names:
        entries[names.index(entry["name"])] = entry
    else:
        entries.append(entry)
    _write_json_atomic(plots / INDEX_FILE, entries)


def _close(fig: Figure) -> None:
    # Only pyplot-made figures are registered anywhere; plain Figures are freed with their references.
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)


def _write_json_atomic(path: Path, data: Any) -> None:
    # Write then rename, so a crash mid-write never leaves a half-written index for the report.
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8"))
