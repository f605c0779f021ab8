"""The shape of ``results.json``: one typed record, written in one place, read back in one place."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

import numpy as np
import torch

from deepfeat.data.info import DataInfo
from deepfeat.engine.checkpoint import atomic_write
from deepfeat.engine.trainer import FitResult, Trainer
from deepfeat.errors import TrainingError
from deepfeat.layout import RunPaths
from deepfeat.learners.base import Learner
from deepfeat.reports.readers import read_results


# "finishing": trained and evaluated, figures or report not yet written (a kill then leaves a run to resume).
Status = Literal["completed", "finishing", "failed", "interrupted", "pruned"]


@dataclass
class Results:
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

    Read like the mapping it is stored as (``results["test"]["test/acc"]``) or by attribute.
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

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Results":
        """From a parsed ``results.json``; keys this version does not know are dropped."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        """As stored: the optional parts only where present."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def __getitem__(self, key: str) -> Any:
        if key not in self:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in _FIELDS and getattr(self, key) is not None

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self else default

    def keys(self) -> Iterator[str]:
        return iter(self.to_dict())


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


def write_results(paths: RunPaths, results: Results) -> None:
    """Write ``results.json`` atomically (a reader never sees half a file)."""
    text = json.dumps(results.to_dict(), indent=2, default=_json_default)
    atomic_write(paths.results, lambda tmp: Path(tmp).write_text(text))


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def read_results_file(paths: RunPaths) -> Results | None:
    """The run's ``results.json``; ``None`` when the run has none yet."""
    raw = read_results(paths.root)
    return Results.from_dict(raw) if raw is not None else None


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
