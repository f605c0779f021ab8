"""kill -9 at several points of a run, then `deepfeat resume`: the exported weights are bitwise those of a run
that was never interrupted, and the folder ends as one completed run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

import deepfeat

# The child trains the config in argv[1] into argv[2] and kills itself (SIGKILL: no cleanup of any kind) at argv[3].
KILLER = """
import os, signal, sys, yaml
import torch
torch.set_num_threads(1)  # as the test process runs: the uninterrupted run it is compared with trains in there
import deepfeat
import deepfeat.run.workflow as workflow
from deepfeat.engine.callbacks import Callback, ModelCheckpoint

cfg, out, where = yaml.safe_load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
die = lambda *_, **__: os.kill(os.getpid(), signal.SIGKILL)

class MidEpoch(Callback):
    def on_step_end(self, trainer, metrics):
        if trainer.epoch == 1 and trainer.global_step % trainer.steps_per_epoch == 3:
            die()

callbacks = []
if where == "mid-epoch":
    callbacks.append(MidEpoch())
elif where == "after-csv-row":  # epoch 2's row is in metrics.csv, its checkpoint not yet written
    save = ModelCheckpoint.on_epoch_end
    ModelCheckpoint.on_epoch_end = lambda self, trainer, epoch, logs: die() if epoch == 1 else save(self, trainer, epoch, logs)
elif where == "evaluation":
    workflow.evaluate_learner = die
deepfeat.fit(cfg, out=out, callbacks=callbacks)
"""


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model" / "model.safetensors"))


@pytest.mark.parametrize("where", ["mid-epoch", "after-csv-row", "evaluation"])
def test_kill_9_then_resume_ends_bitwise_equal_to_an_uninterrupted_run(where: str, tmp_path: Path, tiny) -> None:
    tiny["training"]["epochs"] = 3
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny))
    whole = deepfeat.fit(tiny, out=tmp_path / "whole")
    run = tmp_path / "killed"
    child = subprocess.run([sys.executable, "-c", KILLER, str(config), str(run), where], capture_output=True, text=True,
                           timeout=300)
    assert child.returncode == -9, child.stderr  # it really died by SIGKILL, with no chance to clean up
    assert not (run / "results.json").exists() or json.loads((run / "results.json").read_text())["status"] != "completed"
    resumed = deepfeat.resume(run)
    assert resumed.results.status == "completed"
    got, expected = _weights(run), _weights(whole.dir)
    assert got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in got)
    rows = [line.split(",")[0] for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    assert rows == ["1", "2", "3"], rows
    assert not [p for p in run.rglob("*.tmp")]
