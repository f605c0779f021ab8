"""Reading the files of a run directory (docs/design.md section 2) for plots and the report.

Each reader returns ``None`` when its file is absent, so a report can render an unfinished run, and
raises :class:`~deepfeat.errors.DataError` when the file exists but cannot be parsed.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

import yaml

from deepfeat.errors import DataError
from deepfeat.layout import CONFIG_FILE, METRICS_FILE, RESULTS_FILE

Row = dict[str, Any]


def read_metrics(run_dir: str | os.PathLike[str]) -> list[Row] | None:
    """Rows of ``metrics.csv`` with numbers as floats and empty cells as ``None``."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return None
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return [{k: _cell(v) for k, v in row.items() if k is not None} for row in csv.DictReader(f)]
    except (csv.Error, UnicodeDecodeError) as e:
        raise DataError(f"metrics file at {path}: expected CSV with a header row, got {e}") from e


def read_results(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The parsed ``results.json`` mapping."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"results file at {path}: expected JSON, got a parse error ({e})") from e
    if not isinstance(data, dict):
        raise DataError(f"results file at {path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_config(run_dir: str | os.PathLike[str]) -> Any:
    """The parsed ``config.yaml`` (normally a mapping of sections)."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise DataError(f"config file at {path}: expected YAML, got a parse error ({e})") from e


def as_float(value: Any) -> float:
    """``value`` as a float, ``nan`` when it is empty or not a number."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _cell(text: str | None) -> float | str | None:
    if text is None or text.strip() == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text
