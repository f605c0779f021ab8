"""Run folders for the fault tests: one small finished run, trained once, copied for each test that damages it."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

import deepfeat
from deepfeat.engine.callbacks import Callback

# digits through a small MLP: about a second per epoch on one core.
TINY = {
    "data": {"name": "digits"},
    "encoder": {"name": "mlp", "hidden": [32, 16]},
    "optimizer": {"name": "adam", "lr": 0.003},
    "training": {"epochs": 2, "batch_size": 128, "progress": "none"},
    "evaluation": {"protocol": ["linear"], "embedding_plots": []},
    "logging": {"plots": False, "report": False},
}


class Crash(Callback):
    """Raises ``error`` at the end of epoch ``at`` (1-based), after that epoch's checkpoint was written."""

    def __init__(self, at: int, error: BaseException | None = None) -> None:
        self.at, self.error = at, error or RuntimeError("simulated crash")

    def on_epoch_end(self, trainer, epoch, logs) -> None:  # type: ignore[no-untyped-def]
        if epoch + 1 == self.at:
            raise self.error


@pytest.fixture
def tiny() -> dict[str, Any]:
    """A fresh copy of the small config (digits, MLP, 2 epochs, no plots, no report)."""
    return copy.deepcopy(TINY)


@pytest.fixture
def crash() -> Callable[..., Callback]:
    """``crash(at, error=None)``: a :class:`Crash` callback."""
    return Crash


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A completed run folder; tests that change it take :func:`run_copy`."""
    out = tmp_path_factory.mktemp("finished") / "run"
    deepfeat.fit(TINY, out=out)
    return out


@pytest.fixture
def run_copy(finished_run: Path, tmp_path: Path) -> Path:
    """A private copy of :func:`finished_run`."""
    return Path(shutil.copytree(finished_run, tmp_path / "run"))
