"""Run-folder faults: two processes on one folder, a folder that already holds a run, resume after a crash
(leftover temporaries) and resume of a run that already finished."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import deepfeat
from deepfeat.cli import main
from deepfeat.engine.callbacks import Callback
from deepfeat.errors import CheckpointError, ConfigError
from deepfeat.run.lock import run_lock

# A fit that holds its folder until the test lets it go: at the end of epoch 1 it touches `started`
# and waits for `release`, so a second process meets it mid-run every time.
HOLDER = """
import sys, time
from pathlib import Path
import deepfeat
from deepfeat.engine.callbacks import Callback

class Hold(Callback):
    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == 0:
            Path(sys.argv[2]).touch()
            deadline = time.time() + 120
            while not Path(sys.argv[3]).exists() and time.time() < deadline:
                time.sleep(0.05)

deepfeat.fit(sys.argv[4], out=sys.argv[1], callbacks=[Hold()])
"""


def _config(tmp_path: Path, tiny: dict, **training) -> Path:
    cfg = {**tiny, "training": {**tiny["training"], **training}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.time() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err[len("error: "):-1]


def test_a_second_fit_or_resume_on_a_folder_in_use_is_refused_at_once(tmp_path: Path, tiny, capsys) -> None:
    run, started, release, config = tmp_path / "run", tmp_path / "started", tmp_path / "release", _config(tmp_path, tiny)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run), str(started), str(release), str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(started, holder)
        assert (run / ".lock").read_text() == f"{holder.pid}\n"
        t0 = time.perf_counter()
        assert main(["fit", "-c", str(config), "--out", str(run)]) == 2
        assert time.perf_counter() - t0 < 5  # refused before loading data, never waiting for the holder
        assert _one_error_line(capsys) == (f"run folder {run} is in use by another deepfeat process (pid {holder.pid}). "
                                           "Wait for it, or use another --out.")
        assert main(["resume", str(run)]) == 2
        assert _one_error_line(capsys) == (f"run folder {run} is in use by another deepfeat process (pid {holder.pid}). "
                                           "Wait for it to end; one process at a time trains a run.")
    finally:
        release.touch()
        _, stderr = holder.communicate(timeout=120)
    assert holder.returncode == 0, stderr
    # One run's files: the holder's two epochs, once, and a released lock.
    assert len((run / "metrics.csv").read_text().splitlines()) == 3
    assert json.loads((run / "results.json").read_text())["status"] == "completed"
    assert yaml.safe_load((run / "config.yaml").read_text())["training"]["epochs"] == 2
    assert (run / ".lock").read_text() == ""
    assert sorted(p.name for p in run.iterdir()) == [".lock", "checkpoints", "config.yaml", "config.yaml.sha256",
                                                     "metrics.csv", "metrics.csv.sha256", "model", "model_summary.txt",
                                                     "results.json", "results.json.sha256"]


def test_a_killed_run_leaves_no_stale_lock_and_resumes(tmp_path: Path, tiny) -> None:
    run, started, config = tmp_path / "run", tmp_path / "started", _config(tmp_path, tiny)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run), str(started), str(tmp_path / "never"), str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(started, holder)
    holder.kill()  # SIGKILL: no finally block runs, the kernel alone releases the lock
    holder.communicate(timeout=60)
    assert (run / ".lock").read_text() == f"{holder.pid}\n"  # the dead holder's pid is still written ...
    resumed = deepfeat.resume(run)  # ... but nobody holds the lock
    assert resumed.results.status == "completed" and len((run / "metrics.csv").read_text().splitlines()) == 3
    assert (run / ".lock").read_text() == ""


@pytest.mark.slow  # two CLI processes starting at once: 10-30 s on two cores
def test_two_fits_racing_for_one_folder_exactly_one_runs(tmp_path: Path, tiny) -> None:
    run, config = tmp_path / "run", _config(tmp_path, tiny, epochs=1)
    command = [sys.executable, "-m", "deepfeat.cli", "fit", "-c", str(config), "--out", str(run)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = sorted((p.wait(timeout=300), p.communicate()[1]) for p in procs)
    (ok, _), (refused, message) = outcomes
    assert (ok, refused) == (0, 2), outcomes
    assert message.count("\n") == 1 and message.startswith(f"error: run folder {run} ")
    assert ("is in use by another deepfeat process (pid " in message) or ("already holds a run (config.yaml" in message)
    assert len((run / "metrics.csv").read_text().splitlines()) == 2  # header + the winner's one epoch


@pytest.mark.parametrize("error", [RuntimeError("simulated crash"), KeyboardInterrupt()])
def test_the_lock_is_released_when_a_run_fails_and_resume_finishes_it(tmp_path: Path, tiny, crash,
                                                                      error: BaseException) -> None:
    run = tmp_path / "run"
    with pytest.raises(type(error)):
        deepfeat.fit(tiny, out=run, callbacks=[crash(1, error)])
    assert (run / ".lock").read_text() == ""
    with run_lock(run, "unused"):  # nobody holds it
        pass
    resumed = deepfeat.resume(run)
    assert resumed.results.status == "completed" and resumed.results.fit["epochs"] == 2
    assert len((run / "metrics.csv").read_text().splitlines()) == 3


@pytest.mark.parametrize("name", ["config.yaml", "metrics.csv", "results.json", "checkpoints", "model"])
def test_fit_refuses_a_folder_holding_any_run_file(tmp_path: Path, tiny, name: str) -> None:
    run = tmp_path / "run"
    (run / name).mkdir(parents=True) if "." not in name else (run.mkdir(), (run / name).write_text("old"))
    with pytest.raises(ConfigError) as err:
        deepfeat.fit(tiny, out=run)
    assert str(err.value) == (f"run folder {run} already holds a run ({name}): expected a new or empty folder for --out. "
                              "It has no checkpoint to resume from: use another --out, or delete the folder first.")
    assert [p.name for p in run.iterdir()] == [name]  # untouched, not even a lock file added


def test_fit_refuses_a_finished_run_and_leaves_it_as_it_was(run_copy: Path, capsys) -> None:
    before = {p: p.read_bytes() for p in run_copy.rglob("*") if p.is_file()}
    assert main(["fit", "-c", str(run_copy / "config.yaml"), "--out", str(run_copy)]) == 2
    assert _one_error_line(capsys) == (
        f"run folder {run_copy} already holds a run (config.yaml, metrics.csv, results.json, checkpoints, model): "
        f"expected a new or empty folder for --out. Use another --out (or `deepfeat resume {run_copy}` if that run "
        "was interrupted).")
    assert {p: p.read_bytes() for p in run_copy.rglob("*") if p.is_file()} == before


def test_resume_of_a_finished_run_is_refused_with_what_to_do_instead(run_copy: Path, capsys) -> None:
    before = {p: p.read_bytes() for p in run_copy.rglob("*") if p.is_file()}
    assert main(["resume", str(run_copy)]) == 2
    assert _one_error_line(capsys) == (
        f"run {run_copy} already finished (2 epochs): resume continues interrupted or failed runs. Use `deepfeat "
        f"evaluate {run_copy}` to re-evaluate it, or `deepfeat fit -c {run_copy / 'config.yaml'} --set "
        "training.epochs=4 --out NEW_FOLDER` for a longer run.")
    assert {p: p.read_bytes() for p in run_copy.rglob("*") if p.is_file()} == before  # nothing re-evaluated


def test_resume_clears_every_temporary_of_a_dead_writer_whatever_its_age(tmp_path: Path, tiny, crash) -> None:
    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        deepfeat.fit(tiny, out=run, callbacks=[crash(1)])
    old = [run / "checkpoints" / ".last.pt.k2x_9abc.tmp", run / ".metrics.csv.abcdefgh.tmp"]
    fresh = run / ".results.json.12345678.tmp"  # seconds old: every writer holds the lock, so its writer is dead too
    for path in old + [fresh]:
        path.write_bytes(b"half a file")
    hour_ago = time.time() - 3600
    for path in old:
        os.utime(path, (hour_ago, hour_ago))
    assert deepfeat.resume(run).results.status == "completed"
    assert not any(p.exists() for p in old + [fresh])
    assert len((run / "metrics.csv").read_text().splitlines()) == 3


@pytest.mark.parametrize("command", ["evaluate", "report", "export"])
def test_every_writer_of_a_finished_run_holds_its_lock(command: str, run_copy: Path, capsys) -> None:
    with run_lock(run_copy, "held by the test"):  # as a training or another writer would hold it
        code = subprocess.run([sys.executable, "-m", "deepfeat.cli", command, str(run_copy)], capture_output=True,
                              text=True, timeout=120)
    assert code.returncode == 2, code.stderr
    assert "is in use by another deepfeat process" in code.stderr and "one process at a time writes" in code.stderr


def test_resume_without_a_checkpoint_says_start_again(tmp_path: Path, tiny) -> None:
    class CrashAtStart(Callback):
        def on_fit_start(self, trainer) -> None:  # type: ignore[no-untyped-def]
            raise RuntimeError("simulated crash")

    run = tmp_path / "run"
    with pytest.raises(RuntimeError):
        deepfeat.fit(tiny, out=run, callbacks=[CrashAtStart()])
    with pytest.raises(CheckpointError) as err:
        deepfeat.resume(run)
    assert str(err.value) == (
        f"run {run} has no checkpoint to resume from: expected {run / 'checkpoints' / 'last.pt'}, found none (the run "
        f"stopped before its first checkpoint). Start it again: `deepfeat fit -c {run / 'config.yaml'} --out NEW_FOLDER`.")
    with pytest.raises(ConfigError, match="use another --out, or delete the folder first"):
        deepfeat.fit(tiny, out=run)


def test_resume_of_a_missing_folder_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"^run folder .*nope: not found\. Pass the folder `deepfeat fit` printed\.$"):
        deepfeat.resume(tmp_path / "nope")
    assert not (tmp_path / "nope").exists()


def test_the_lock_file_is_an_os_lock_others_can_see(tmp_path: Path) -> None:
    """Any tool can test the lock: flock on <run>/.lock fails while deepfeat holds it."""
    with run_lock(tmp_path / "run", "unused"):
        fd = os.open(tmp_path / "run" / ".lock", os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    fd = os.open(tmp_path / "run" / ".lock", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released
    os.close(fd)


def test_a_process_forked_inside_the_lock_does_not_keep_the_folder_locked_after_it(tmp_path: Path) -> None:
    """DataLoader workers are forked while a run holds its folder and may outlive the block (persistent workers
    of a Python session): the folder must be free again as soon as the block ends."""
    with run_lock(tmp_path / "run", "wait"):
        child = os.fork()
        if child == 0:  # the worker: holds the inherited descriptor for a while, then leaves without cleanup
            time.sleep(3)
            os._exit(0)
    try:
        with run_lock(tmp_path / "run", "wait"):  # refused while the child lives, before the explicit unlock
            pass
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)
