"""A real full disk: a run folder on a tiny tmpfs (root only; skipped where mounting is not allowed)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

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


def test_a_full_disk_during_training_is_told_once(tiny_disk: Path, caplog) -> None:
    """The failure cannot be recorded on a full disk either: that is no second message."""
    cfg = {"data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [256, 256]},
           "training": {"epochs": 2, "batch_size": 128, "progress": "none"},
           "evaluation": {"embedding_plots": [], "protocol": ["knn"]}, "logging": {"plots": False}}
    with pytest.raises(CheckpointError, match="no space left on device"):
        deepfeat.fit(cfg, out=tiny_disk / "run")
    assert not [r for r in caplog.records if "could not record the failure" in r.getMessage()]


def test_a_disk_that_fills_after_training_is_one_line_and_resume_finishes_without_training(
        tmp_path: Path, tiny, monkeypatch, capsys) -> None:
    from matplotlib.figure import Figure

    from deepfeat.cli import main

    tiny["logging"] = {"plots": True, "report": True}
    config, run = tmp_path / "tiny.yaml", tmp_path / "run"
    config.write_text(yaml.safe_dump(tiny))

    def full(self, fname, *args, **kwargs):
        Path(fname).write_bytes(b"\0" * 10)  # the first bytes landed, then the disk filled up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full)
    assert main(["fit", "-c", str(config), "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no space left on device" in err[0] and "deepfeat resume" in err[0], err
    assert not [p for p in run.rglob("*.png")] and not [p for p in run.rglob("*.tmp")]  # no 0-byte or partial figure
    assert json.loads((run / "results.json").read_text())["status"] != "completed"
    last = (run / "checkpoints" / "last.pt").read_bytes()
    monkeypatch.undo()  # space freed
    assert deepfeat.resume(run).results.status == "completed"
    assert (run / "checkpoints" / "last.pt").read_bytes() == last  # finished, not trained again
    assert (run / "plots" / "training_curves.png").stat().st_size > 1000 and (run / "report.html").is_file()
