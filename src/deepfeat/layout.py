"""The run directory layout (docs/design.md section 2): every file name of a run folder, named in one place.

A bottom-floor module: the engine writes checkpoints into it, the reports read it, the run layer owns it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from deepfeat.errors import ConfigError

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
RESULTS_FILE = "results.json"
REPORT_FILE = "report.html"
PLOTS_DIR = "plots"
MODEL_DIR = "model"
FAILED_MODEL_DIR = "model.failed"  # a failed run's model/, set aside so nothing loads it
CHECKPOINTS_DIR = "checkpoints"
LOCK_FILE = ".lock"
SUMMARY_FILE = "model_summary.txt"
TRACKING_FILE = "tracking.json"  # the run's ids in outside trackers (MLflow), so a resume continues the same record


@dataclass(frozen=True)
class RunPaths:
    """Paths inside one run folder."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def metrics(self) -> Path:
        return self.root / METRICS_FILE

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS_DIR

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def best(self) -> Path:
        return self.checkpoints / "best.pt"

    @property
    def model(self) -> Path:
        return self.root / MODEL_DIR

    @property
    def plots(self) -> Path:
        return self.root / PLOTS_DIR

    @property
    def results(self) -> Path:
        return self.root / RESULTS_FILE

    @property
    def report(self) -> Path:
        return self.root / REPORT_FILE

    @property
    def summary(self) -> Path:
        return self.root / SUMMARY_FILE

    @property
    def lock(self) -> Path:
        return self.root / LOCK_FILE

    @property
    def tracking(self) -> Path:
        return self.root / TRACKING_FILE

    @property
    def log(self) -> Path:
        return self.root / "train.log"


_PLAIN = re.compile(r"[A-Za-z0-9_.-]+")


def plain_name(name: str, where: str) -> str:
    """``name``, checked to be one folder name (no ``/``, not ``.`` or ``..``): a name that names a folder inside
    the runs folder must never reach outside it; ConfigError otherwise."""
    if not _PLAIN.fullmatch(name) or set(name) == {"."}:
        raise ConfigError(f"{where}: expected a plain name of letters, digits, -, _, . (a folder inside the runs "
                          f"folder), got {name!r}. Rename it, e.g. {_suggest(name)!r}.")
    return name


def _suggest(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "run"


def new_run_dir(base: Path, name: str) -> Path:
    """A fresh folder ``base/<name>-<YYYYmmdd-HHMMSS>`` (a suffix is added on collision); ``name`` must be plain."""
    stem = plain_name(name, "run name")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(base) / f"{stem}-{stamp}"
    i = 1
    while path.exists():
        i += 1
        path = Path(base) / f"{stem}-{stamp}-{i}"
    path.mkdir(parents=True)
    return path
