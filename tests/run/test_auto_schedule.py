"""Epochs and batch size left out are picked from the training split's size, said in the banner and recorded in
the run (config.yaml, checkpoints) so that a resume trains the same schedule; given values are kept."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
import yaml
from sklearn.datasets import load_digits

import deepfeat
from deepfeat.data.validation_policy import plan_schedule

X, Y = load_digits(return_X_y=True)
X, Y = X[:400].astype(np.float32), Y[:400]
# max_steps ends the run after a few updates: the schedule is planned, and recorded, in full.
BASE = {"encoder": {"name": "mlp", "hidden": [16]}, "evaluation": {"protocol": [], "embedding_plots": []},
        "logging": {"plots": False, "report": False}}


def _fit(tmp_path: Path, training: dict) -> tuple[dict, dict]:
    """The ``training`` section as config.yaml and the last checkpoint recorded it."""
    run = deepfeat.fit({**BASE, "training": {"progress": "line", "max_steps": 3, **training}}, data=(X, Y),
                       out=tmp_path / "run")
    saved = yaml.safe_load((run.dir / "config.yaml").read_text())["training"]
    checkpoint = torch.load(run.dir / "checkpoints" / "last.pt", weights_only=False)["config"]["training"]
    return saved, checkpoint


def test_auto_epochs_and_batch_size_are_announced_and_recorded(tmp_path: Path, capsys) -> None:
    saved, checkpoint = _fit(tmp_path, {})
    err = capsys.readouterr().err
    n_train = int(re.search(r"· ([\d,]+) train /", err).group(1).replace(",", ""))
    plan = plan_schedule(None, None, n_train)
    assert plan.message in err.splitlines()  # one line of the banner
    assert plan.batch_size == 128 and plan.epochs > 10
    for recorded in (saved, checkpoint):  # what a resume reads
        assert (recorded["epochs"], recorded["batch_size"]) == (plan.epochs, plan.batch_size)


def test_given_epochs_and_batch_size_are_kept_even_when_equal_to_the_former_defaults(tmp_path: Path, capsys) -> None:
    saved, checkpoint = _fit(tmp_path, {"epochs": 10, "batch_size": 128})
    err = capsys.readouterr().err
    assert "auto" not in err and "10 epochs x 3 steps of 128" not in err  # max_steps=3 plans 1 epoch of 3 steps
    assert "1 epochs x 3 steps of 128" in err
    for recorded in (saved, checkpoint):
        assert (recorded["epochs"], recorded["batch_size"]) == (10, 128)
