"""The shape of ``results.json``: written in one place, read back in one place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from deepfeat.data.info import DataInfo
from deepfeat.engine.checkpoint import atomic_write
from deepfeat.engine.trainer import FitResult, Trainer
from deepfeat.layout import RunPaths
from deepfeat.learners.base import Learner
from deepfeat.reports.readers import read_results


def data_summary(info: DataInfo) -> dict[str, Any]:
    """The data info for results.json; a text vocabulary is left out (it lives in model/model.json)."""
    summary = info.to_dict()
    if summary.get("tokenizer"):
        summary["tokenizer"] = {k: v for k, v in summary["tokenizer"].items() if k != "vocab"}
    return summary


def fit_summary(result: FitResult, trainer: Trainer, learner: Learner) -> dict[str, Any]:
    return {"epochs": result.epochs, "steps": result.steps, "time_s": round(result.time_s, 3),
            "skipped_steps": result.skipped_steps, "stopped_early": result.stopped_early,
            "stop_reason": trainer.stop_reason, "best_epoch": result.best_epoch, "best": result.best,
            "device": str(trainer.precision.device), "precision": trainer.precision.name,
            "channels_last": trainer.precision.channels_last,
            "parameters": sum(p.numel() for p in learner.parameters()),
            "trainable_parameters": sum(p.numel() for p in learner.parameters() if p.requires_grad)}


def write_results(paths: RunPaths, results: dict[str, Any]) -> None:
    text = json.dumps(results, indent=2, default=_json_default)
    atomic_write(paths.results, lambda tmp: Path(tmp).write_text(text))


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def read_results_file(paths: RunPaths) -> dict[str, Any]:
    """The run's ``results.json`` as a dict; ``{}`` when the run has none yet."""
    return read_results(paths.root) or {}
