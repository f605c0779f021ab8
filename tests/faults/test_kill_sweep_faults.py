"""SIGKILL at each write of a run, then `deepfeat resume`: the weights, results, metrics, figures and report end
exactly as an uninterrupted run's (times and the folder's own name aside), and nothing of the dead writer stays.

Every file of a run is written through one atomic rename (``os.replace``); the child counts them and kills
itself just before the chosen one, when the new file is complete under its temporary name and the old one still
in place: the moment a kill can leave the most out of step. A kill inside a write leaves the same state (the
temporary is only ever renamed whole). The default suite kills at the writes that once paired a new best-epoch
record with old weights and at the end of the run; the slow sweep kills at every one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from safetensors.torch import load_file

import deepfeat
from deepfeat.errors import CheckpointError, ConfigError

CHILD = """
import json, os, signal, sys
import torch
torch.set_num_threads(1)
import yaml
import deepfeat

cfg, out, at = yaml.safe_load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
real, writes = os.replace, []

def replace(src, dst, *args, **kwargs):
    writes.append(os.path.relpath(dst, out))
    if len(writes) == at:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, *args, **kwargs)

os.replace = replace
deepfeat.fit(cfg, out=out)
print(json.dumps(writes))
"""


def _config(plots: bool) -> dict[str, Any]:
    """3 epochs whose best is epoch 2 (the monitored learning rate peaks there), so the run restores best.pt."""
    return {
        "data": {"name": "digits"},
        "encoder": {"name": "mlp", "hidden": [32, 16]},
        "optimizer": {"name": "adam", "lr": 0.003},
        "schedule": {"name": "one_cycle", "warmup_epochs": 2},
        "training": {"epochs": 3, "batch_size": 128, "progress": "none", "monitor": "lr", "mode": "max"},
        "evaluation": {"protocol": ["linear"], "embedding_plots": ["pca"] if plots else []},
        "logging": {"plots": plots, "report": True},
    }


def _child(config: Path, out: Path, at: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD, str(config), str(out), str(at)], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module", params=[False, True], ids=["no-plots", "plots"])
def reference(request, tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """An uninterrupted run (in a child, as the killed ones) and the list of its writes, in order."""
    root = tmp_path_factory.mktemp("sweep")
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(_config(request.param)))
    done = _child(config, root / "whole", 0)
    assert done.returncode == 0, done.stderr
    return config, root / "whole", json.loads(done.stdout.strip().splitlines()[-1])


CLOCKS = ("time_s", "data_wait")  # columns measured by the clock: they differ between any two runs


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in CLOCKS}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def _metrics(run: Path) -> list[list[str]]:
    rows = [line.split(",") for line in (run / "metrics.csv").read_text().splitlines()]
    columns = [i for i, name in enumerate(rows[0]) if name in CLOCKS]
    return [[v for i, v in enumerate(r) if i not in columns] for r in rows]


def _report(run: Path) -> str:
    """report.html less what differs between any two runs: the folder's name and path, the date, epoch times."""
    text = (run / "report.html").read_text()
    text = text.replace(str(run.resolve()), "RUN").replace(run.name, "RUN")
    text = re.sub(r"run of \d{4}-\d\d-\d\d \d\d:\d\d", "run of DATE", text)
    text = re.sub(r'"value">[\d.]+ s<', '"value">TIME s<', text)  # the training time card
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    for line in (run / "metrics.csv").read_text().splitlines()[1:]:
        for column in (header.index(name) for name in CLOCKS):
            text = text.replace(f">{float(line.split(',')[column]):.4g}<", ">TIME<")
    return text


def _files(run: Path) -> set[str]:
    return {str(p.relative_to(run)) for p in run.rglob("*") if p.is_file() and p.name != ".lock"}


def _assert_same_run(got: Path, expected: Path, missing: frozenset[str] | set[str] = frozenset()) -> None:
    weights, reference = load_file(str(got / "model" / "model.safetensors")), load_file(str(expected / "model" / "model.safetensors"))
    assert weights.keys() == reference.keys() and all((weights[k] == reference[k]).all() for k in weights)
    results = json.loads((got / "results.json").read_text())
    assert _without_times(results) == _without_times(json.loads((expected / "results.json").read_text()))
    assert results["status"] == "completed" and results["fit"]["best_epoch"] == 2
    assert _metrics(got) == _metrics(expected)
    assert _report(got) == _report(expected)
    assert _files(got) == _files(expected) - missing, _files(got) ^ _files(expected)  # no temporary left, nothing missing
    for png in (expected / "plots").glob("*.png"):
        assert (got / "plots" / png.name).read_bytes() == png.read_bytes(), png.name


def _kill_then_resume(reference: tuple[Path, Path, list[str]], at: int, tmp_path: Path) -> None:
    config, whole, writes = reference
    run = tmp_path / f"killed-{at}"
    child = _child(config, run, at)
    assert child.returncode == -9, child.stderr  # it died by SIGKILL, with no chance to clean up
    if not (run / "checkpoints" / "last.pt").is_file():  # killed before the first checkpoint: nothing to resume
        with pytest.raises(CheckpointError, match="no checkpoint to resume from"):
            deepfeat.resume(run)
        return
    if at > _nth(writes, "results.json", -1):  # killed after the final results.json, before its sidecar: finished
        with pytest.raises(ConfigError, match="already finished"):
            deepfeat.resume(run)
        _assert_same_run(run, whole, missing={"results.json.sha256"})  # a file without a sidecar loads unchecked
        return
    assert json.loads((run / "results.json").read_text())["status"] != "completed" if (run / "results.json").exists() else True
    resumed = deepfeat.resume(run)
    assert resumed.results.status == "completed"
    _assert_same_run(run, whole)


def _nth(writes: list[str], name: str, n: int) -> int:
    """The 1-based index of the ``n``-th write of ``name`` (``-1``: the last)."""
    found = [i for i, w in enumerate(writes, 1) if w == name]
    return found[n - 1] if n > 0 else found[n]


@pytest.fixture
def quick(reference) -> tuple[Path, Path, list[str]]:
    if "plots/index.json" in reference[2]:
        pytest.skip("the figures' kill points are in the slow sweep")
    return reference


@pytest.mark.parametrize("point", ["best of epoch 2", "last of epoch 2", "report", "completed"])
def test_a_kill_at_a_key_write_then_resume_ends_as_the_uninterrupted_run(point: str, quick, tmp_path: Path) -> None:
    writes = quick[2]
    at = {"best of epoch 2": _nth(writes, "checkpoints/best.pt", 2),
          "last of epoch 2": _nth(writes, "checkpoints/last.pt", 2),
          "report": _nth(writes, "report.html", 1),
          "completed": _nth(writes, "results.json", -1)}[point]
    _kill_then_resume(quick, at, tmp_path)


@pytest.mark.slow
def test_a_kill_at_every_write_then_resume_ends_as_the_uninterrupted_run(reference, tmp_path: Path) -> None:
    for at in range(1, len(reference[2]) + 1):
        _kill_then_resume(reference, at, tmp_path)
        shutil.rmtree(tmp_path / f"killed-{at}")


def test_a_stale_best_checkpoint_is_never_exported_under_the_best_epochs_name(quick, tmp_path: Path) -> None:
    """best.pt replaced by another epoch's weights (a copy put back by hand, say): resume refuses to finish on it."""
    config, _, writes = quick
    run = tmp_path / "killed"
    assert _child(config, run, _nth(writes, "report.html", 1)).returncode == -9
    checkpoints = run / "checkpoints"
    stale = tmp_path / "epoch1-best"
    assert _child(config, stale, _nth(writes, "checkpoints/best.pt", 2)).returncode == -9  # best.pt of epoch 1 on disk
    shutil.copy(stale / "checkpoints" / "best.pt", checkpoints / "best.pt")
    (checkpoints / "best.pt.sha256").unlink()  # the stale file, with no sidecar to betray it
    with pytest.raises(CheckpointError, match="best epoch 2"):
        deepfeat.resume(run)
    assert json.loads((run / "results.json").read_text())["status"] != "completed"


def test_resume_removes_the_temporaries_of_a_dead_writer_whatever_their_age(quick, tmp_path: Path) -> None:
    config, _, writes = quick
    run = tmp_path / "killed"
    assert _child(config, run, _nth(writes, "checkpoints/last.pt", 2)).returncode == -9
    fresh = [p for p in run.rglob(".*.tmp")]
    assert fresh  # the complete last.pt of epoch 2, never renamed: seconds old
    deepfeat.resume(run)
    assert not [p for p in run.rglob("*.tmp")]


def test_every_run_file_is_written_by_an_atomic_rename(reference) -> None:
    """What the sweep can kill at: each file of a finished run (but the lock) arrives through os.replace."""
    _, whole, writes = reference
    assert _files(whole) <= set(writes), _files(whole) - set(writes)
