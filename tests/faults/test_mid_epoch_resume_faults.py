"""kill -9 in the middle of an epoch with training.checkpoint_steps: the resume goes on at the next batch (it reads
none of the batches already taken) and ends with the weights of a run that was never interrupted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

import deepfeat
from deepfeat.engine.checkpoint import load_checkpoint

# The child trains the config in argv[1] into argv[2] and kills itself (SIGKILL) after step 5 of epoch 2.
KILLER = """
import os, signal, sys, yaml
import torch
torch.set_num_threads(1)
import deepfeat
from deepfeat.engine.callbacks import Callback

class MidEpoch(Callback):
    def on_step_end(self, trainer, metrics):
        if trainer.epoch == 1 and trainer.epoch_step == 5:
            os.kill(os.getpid(), signal.SIGKILL)

deepfeat.fit(yaml.safe_load(open(sys.argv[1])), out=sys.argv[2], callbacks=[MidEpoch()])
"""


@pytest.mark.slow
def test_kill_9_mid_epoch_resumes_at_the_next_batch_with_the_weights_of_an_uninterrupted_run(tmp_path: Path,
                                                                                               tiny) -> None:
    tiny["training"].update(checkpoint_steps=4, batch_size=64)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny))
    whole = deepfeat.fit(tiny, out=tmp_path / "whole")
    run = tmp_path / "killed"
    child = subprocess.run([sys.executable, "-c", KILLER, str(config), str(run)], capture_output=True, text=True,
                           timeout=300)
    assert child.returncode == -9, child.stderr
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert (state["epoch"], state["epoch_step"]) == (1, 4)  # one epoch done, 4 batches of the second taken
    deepfeat.resume(run)
    got, expected = load_file(str(run / "model" / "model.safetensors")), load_file(str(whole.dir / "model" / "model.safetensors"))
    assert got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in got)
    assert (run / "metrics.csv").read_text().split("\n")[1:] and [
        r.split(",")[4:] for r in (run / "metrics.csv").read_text().splitlines()] == [
        r.split(",")[4:] for r in (whole.dir / "metrics.csv").read_text().splitlines()]


# The child, one of 2 torchrun processes: fits the config in argv[2] into argv[3], resumes argv[3], or fits and has
# rank 0 kill itself (SIGKILL) after step 5 of epoch 2 (torchrun then stops rank 1).
RANKS = """
import os, signal, sys, yaml
import torch
torch.set_num_threads(1)
import deepfeat
from deepfeat.engine.callbacks import Callback

class MidEpoch(Callback):
    def on_step_end(self, trainer, metrics):
        if trainer.dist.rank == 0 and trainer.epoch == 1 and trainer.epoch_step == 5:
            os.kill(os.getpid(), signal.SIGKILL)

action, config, out = sys.argv[1:4]
if action == "resume":
    deepfeat.resume(out)
else:
    deepfeat.fit(yaml.safe_load(open(config)), out=out, callbacks=[MidEpoch()] if action == "kill" else [])
"""


@pytest.mark.slow
def test_kill_9_mid_epoch_under_2_processes_drawing_their_own_views_dropout_and_crops_resumes_exactly(
        kill_9_and_resume_under_torchrun) -> None:
    """SimCLR (views from its saved generator, one stream per rank), dropout (each rank's global RNG) and data.augment
    (crops on the device): every random draw differs per process, and the resumed run still ends bitwise the same."""
    cfg = {"data": {"name": "digits", "augment": "auto"}, "learner": {"name": "simclr"},
           "encoder": {"name": "mlp", "hidden": [32], "dropout": 0.2},
           "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
           "training": {"epochs": 2, "batch_size": 64, "progress": "none", "restore_best": False, "checkpoint_steps": 4},
           "evaluation": {"protocol": [], "embedding_plots": []}, "logging": {"plots": False, "report": False}}
    kill_9_and_resume_under_torchrun(RANKS, cfg)
