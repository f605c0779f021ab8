"""One trial of a comparison or a search: a config made from dotted overrides, trained as an ordinary run.

``compare`` (a grid x seeds) and ``tune`` (an Optuna study) share this: each trial is a normal
:func:`~deepfeat.run.workflow.fit` into its own folder, and one that fails is recorded, not fatal.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from deepfeat.config import Config, load_config
from deepfeat.engine.callbacks import Callback
from deepfeat.errors import DataError
from deepfeat.reports.readers import read_results
from deepfeat.run.runs import Run
from deepfeat.run.workflow import fit

log = logging.getLogger("deepfeat")


def overrides_of(values: Mapping[str, Any]) -> list[str]:
    """``{"optimizer.lr": 0.01} -> ["optimizer.lr=0.01"]``: dotted ``--set`` overrides (values as JSON, read as YAML)."""
    return [f"{key}={json.dumps(value)}" for key, value in values.items()]


def trial_config(base: Config | Mapping[str, Any], values: Mapping[str, Any], extra: list[str] | tuple[str, ...] = ()) -> Config:
    """``base`` with the dotted ``values`` set (then ``extra`` overrides), validated; its ``compare`` section dropped."""
    raw = {k: v for k, v in (base.to_dict() if isinstance(base, Config) else dict(base)).items() if k != "compare"}
    return load_config(raw, [*overrides_of(values), *extra])


@dataclass
class Trial:
    """How one trial went: its folder, the run (None when it failed), its results and, if it failed, why."""

    folder: Path
    run: Run | None
    results: dict[str, Any] = field(default_factory=dict)
    error: Exception | None = None

    @property
    def failure(self) -> dict[str, Any] | None:
        """The recorded error (``results["error"]``: type, message, epoch, ...) of a trial that did not complete."""
        if self.error is None:
            return None
        return self.results.get("error") or {"type": type(self.error).__name__, "message": str(self.error)}


def run_trial(cfg: Config, folder: Path, callbacks: list[Callback] | None = None) -> Trial:
    """Train ``cfg`` into ``folder``; an error (divergence, a pruned run, ...) is caught and recorded in the Trial."""
    try:
        run = fit(cfg, out=folder, callbacks=callbacks)
    except Exception as e:  # noqa: BLE001 -- one failing trial must not lose the others: its folder says why
        return Trial(folder, None, saved_results(folder), e)
    return Trial(folder, run, run.results.to_dict())


def saved_results(folder: Path) -> dict[str, Any]:
    """What a run that did not complete wrote about itself (status, error, diagnostics), or {} if it got no further."""
    try:
        return read_results(folder) or {}
    except DataError:
        return {}
