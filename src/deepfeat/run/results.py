"""The shape of ``results.json``: one typed record, written in one place, read back in one place."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

import numpy as np
import torch

from deepfeat.data.info import DataInfo
from deepfeat.engine.checkpoint import verify_checksum, write_verified
from deepfeat.engine.distributed import current
from deepfeat.engine.trainer import FitResult, Trainer
from deepfeat.errors import CheckpointError, ConfigError, DataError, TrainingError
from deepfeat.layout import RunPaths
from deepfeat.learners.base import Learner
from deepfeat.reports.readers import Row, read_metrics, read_results
from deepfeat.run.model_io import META_FILE
from deepfeat.typecheck import stored_record


# "finishing": trained and evaluated, figures or report not yet written (a kill then leaves a run to resume).
Status = Literal["completed", "finishing", "failed", "interrupted", "pruned"]


@dataclass
class Results(Mapping[str, Any]):
    """What a run measured, as ``results.json`` holds it.

    - ``status``: completed (written last, once everything is on disk), finishing (figures and report under way),
      failed, interrupted or pruned (a search stopped it); ``error`` says what stopped a run that did not complete
      (type, message, phase, epoch, step, last checkpoint).
    - ``data``: the data summary; ``fit``: epochs, steps, time, best epoch, device, precision, parameters.
    - ``test``: the learner's validation metrics on the test split (``"test/acc"``, ...).
    - ``evaluations``: ``{name: {metric: value, ..., "settings": {...}}}``, feature protocols and the
      learner's declared evaluations and observers alike.
    - ``headline``: ``[{label, key, value}]``, the learner's declared headline metrics, in order.
    - ``diagnostics`` / ``preflight``: verdicts of the training diagnostics, when they were on.
    - ``nonfinite``: the keys (``"test.test/loss"``) whose values were NaN or inf, stored as null (strict JSON).

    Read like the mapping it is stored as (``results["test"]["test/acc"]``, ``list(results)``, ``results.items()``:
    the parts present) or by attribute.
    """

    status: Status = "completed"
    data: dict[str, Any] = field(default_factory=dict)
    fit: dict[str, Any] = field(default_factory=dict)
    test: dict[str, Any] | None = None
    evaluations: dict[str, Any] | None = None
    headline: list[dict[str, Any]] | None = None
    diagnostics: list[dict[str, Any]] | None = None
    preflight: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    nonfinite: list[str] | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Results":
        """From a parsed ``results.json``: ConfigError for an unknown or missing key or a wrong type."""
        return stored_record(cls, raw, "results", required=("status", "data", "fit"))

    def to_dict(self) -> dict[str, Any]:
        """As stored: the optional parts only where present."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def __getitem__(self, key: str) -> Any:
        if key not in self:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in _FIELDS and getattr(self, key) is not None

    def __iter__(self) -> Iterator[str]:
        return (f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


_FIELDS = {f.name for f in dataclasses.fields(Results)}


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


def print_summary(run_dir: Path, results: Mapping[str, Any], report: bool) -> None:
    """What a run says when it ends (``deepfeat fit``, ``resume``, ``evaluate`` and :func:`~deepfeat.run.workflow.fit`):
    its headline metrics, then its other test metrics, its folder and, when ``report`` (logging.report) wrote it,
    its report. Under torchrun rank 0 alone speaks (the other ranks have no results)."""
    if not current().is_main:
        return
    # The learner's headline metrics first (PSNR for a denoiser, FID for a GAN, ...), then the test metrics.
    headline = results.get("headline") or []
    shown = {c["key"] for c in headline}
    parts = [f"{c['label']} {c['value']:.4g}" for c in headline]
    parts += [f"{k} {v:.4f}" for k, v in (results.get("test") or {}).items() if f"test.{k}" not in shown]
    print(f"done: {'  '.join(parts)}")
    print(f"run folder: {run_dir}")
    if report:
        print(f"report:     {RunPaths(run_dir).report}")


def write_results(paths: RunPaths, results: Results) -> None:
    """Write ``results.json`` atomically, with its ``.sha256`` sidecar, as strict JSON.

    NaN and inf have no JSON spelling: they are stored as null and their keys listed in ``nonfinite``, so a
    diverged metric is neither written as invalid JSON nor silently lost. A key listed before stays listed
    while its value is still null.
    """
    bad: list[str] = []
    nulls: set[str] = set()
    raw = _finite(results.to_dict(), "", bad, nulls)
    listed = sorted(set(bad) | (set(results.nonfinite or ()) & nulls))
    raw.pop("nonfinite", None)
    if listed:
        raw["nonfinite"] = listed
    text = json.dumps(raw, indent=2, allow_nan=False)
    write_verified(paths.results, lambda tmp: Path(tmp).write_text(text))


def _finite(value: Any, key: str, bad: list[str], nulls: set[str]) -> Any:
    """``value`` as plain JSON data (numpy unwrapped), NaN/inf replaced by None; their keys into ``bad``,
    the keys of every None into ``nulls``."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dict):
        return {k: _finite(v, f"{key}.{k}" if key else str(k), bad, nulls) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v, f"{key}[{i}]", bad, nulls) for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        bad.append(key)
        value = None
    if value is None:
        nulls.add(key)
    return value


def read_results_file(paths: RunPaths) -> Results | None:
    """The run's ``results.json``, checked against its sidecar and its schema; ``None`` when the run has none yet.

    DataError, naming the file and how to get a good one back, when it is damaged. Files from before strict
    JSON may hold NaN: they still read.
    """
    if not paths.results.is_file():
        return None
    fix = results_fix(paths)
    try:
        verify_checksum(paths.results, what="results file", fix=fix)
    except CheckpointError as e:  # damaged run files are one kind of error, whichever check found the damage
        raise DataError(str(e)) from None
    try:
        return Results.from_dict(read_results(paths.root))
    except (DataError, ConfigError) as e:
        raise DataError(f"results file {paths.results} is damaged ({e}). {fix}") from None


def results_fix(paths: RunPaths) -> str:
    """How to get a good ``results.json`` back: evaluate again a run that exported its model, else finish the run."""
    if (paths.model / META_FILE).is_file():
        return f"Write it again: `deepfeat evaluate {paths.root}`."
    return f"Finish the run, which writes it again: `deepfeat resume {paths.root}`."


def read_metrics_file(paths: RunPaths) -> list[Row] | None:
    """The run's ``metrics.csv`` rows, checked against its sidecar; ``None`` when there is none.

    DataError when it is damaged: an interrupted run's resume writes it again from the checkpoint's history.
    """
    if not paths.metrics.is_file():
        return None
    fix = (f"An interrupted run writes it again when resumed: `deepfeat resume {paths.root}`; a finished run's "
           "can only be restored from a copy.")
    try:
        verify_checksum(paths.metrics, what="metrics file", fix=fix)
        return read_metrics(paths.root)
    except CheckpointError as e:
        raise DataError(str(e)) from None
    except DataError as e:
        raise DataError(f"{e}. {fix}") from None


def check_finite_weights(learner: Learner, skipped_steps: int) -> None:
    """Refuse to export or evaluate a learner whose weights are NaN/inf, and say what happened.

    Non-finite steps are skipped before they reach the weights, so non-finite weights mean the
    optimizer diverged through finite but huge updates (or non-finite steps were allowed to pile up).
    """
    bad = [name for name, p in learner.named_parameters() if not bool(torch.isfinite(p).all())]
    if bad:
        raise TrainingError(
            f"weights after training are not finite in {len(bad)} tensors (first: {bad[0]}); {skipped_steps} steps "
            "were skipped as non-finite. The optimization diverged: nothing was exported. Lower the learning rate, "
            "set training.grad_clip, or lower training.max_nonfinite so a diverging run stops early.")
