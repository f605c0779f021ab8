"""A real full disk: a run folder on a tiny tmpfs (root only; skipped where mounting is not allowed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import torch

import deepfeat
from deepfeat.errors import CheckpointError

# Big enough for config.yaml and metrics.csv, too small for the checkpoint of this MLP and its Adam state (~1.3 MB).
SIZE = "400k"


@pytest.fixture
def tiny_disk(tmp_path: Path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_the_checkpoint_in_one_line_and_leaves_nothing_half_written(tiny_disk: Path) -> None:
    cfg = {"data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [256, 256]},
           "training": {"epochs": 2, "batch_size": 128, "progress": "none"},
           "evaluation": {"embedding_plots": [], "protocol": ["knn"]}, "logging": {"plots": False}}
    with pytest.raises(CheckpointError, match="no space left on device") as info:
        deepfeat.fit(cfg, out=tiny_disk / "run")
    assert "\n" not in str(info.value) and "checkpoint" in str(info.value)
    names = [p.name for p in (tiny_disk / "run").rglob("*")]
    assert not [n for n in names if n.endswith(".tmp")], names  # no temporary file left behind
    last = tiny_disk / "run" / "checkpoints" / "last.pt"
    assert not last.exists() or isinstance(torch.load(last, weights_only=True), dict)  # never half a checkpoint
