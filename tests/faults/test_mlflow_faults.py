"""MLflow records each run exactly once through faults: a kill -9 and a resume log every epoch once, a resumed run
ends without its old error, ``evaluate`` updates the run's MLflow run, and a study's parent run stays open while
another process still runs its trials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import deepfeat
from deepfeat.engine.callbacks import ModelCheckpoint

mlflow = pytest.importorskip("mlflow")

SRC = Path(__file__).resolve().parents[2] / "src"

# The child trains the config in argv[1] into argv[2] and kills itself (SIGKILL) while epoch 2's checkpoint is
# written: MLflow has epoch 2's metrics, the folder's last checkpoint is epoch 1's.
KILLER = """
import os, signal, sys, yaml
import deepfeat
from deepfeat.engine.callbacks import ModelCheckpoint

save = ModelCheckpoint.on_epoch_end
def dying(self, trainer, epoch, logs):
    if epoch == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    save(self, trainer, epoch, logs)
ModelCheckpoint.on_epoch_end = dying
deepfeat.fit(yaml.safe_load(open(sys.argv[1])), out=sys.argv[2])
"""


@pytest.fixture
def tracked(tiny) -> dict:
    return {**tiny, "logging": {**tiny["logging"], "mlflow": True}}


def _mlflow_run(run_dir: Path):  # type: ignore[no-untyped-def]
    ids = json.loads((run_dir / "tracking.json").read_text())["mlflow"]
    client = mlflow.MlflowClient(ids["tracking_uri"])
    return client, client.get_run(ids["run_id"])


def _epochs_logged(run_dir: Path) -> dict[str, list[int]]:
    """Every per-epoch metric (a column of metrics.csv) -> the steps of its MLflow history."""
    client, logged = _mlflow_run(run_dir)
    columns = (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    return {k: [m.step for m in client.get_metric_history(logged.info.run_id, k)] for k in columns
            if k not in ("epoch", "step")}


def test_a_run_stopped_before_its_checkpoint_then_resumed_logs_every_epoch_once(runs: Path, tracked,
                                                                                monkeypatch) -> None:
    tracked["training"]["epochs"] = 3
    save = ModelCheckpoint.on_epoch_end

    def failing(self, trainer, epoch, logs):  # type: ignore[no-untyped-def]
        if epoch == 1:  # epoch 2 is logged to MLflow, its checkpoint never written
            raise OSError("disk gone")
        save(self, trainer, epoch, logs)

    monkeypatch.setattr(ModelCheckpoint, "on_epoch_end", failing)
    with pytest.raises(OSError):
        deepfeat.fit(tracked, out=runs / "stopped")
    monkeypatch.setattr(ModelCheckpoint, "on_epoch_end", save)
    deepfeat.resume(runs / "stopped")  # trains epoch 2 again, from epoch 1's checkpoint
    logged = _epochs_logged(runs / "stopped")
    assert "train/loss" in logged and all(steps == [1, 2, 3] for steps in logged.values()), logged


@pytest.mark.slow
def test_a_kill_9_while_a_checkpoint_is_written_then_resume_logs_every_epoch_once(runs: Path, tracked) -> None:
    tracked["training"]["epochs"] = 3
    config = runs.parent / "tiny.yaml"
    config.write_text(yaml.safe_dump(tracked))
    child = subprocess.run([sys.executable, "-c", KILLER, str(config), str(runs / "killed")], capture_output=True,
                           text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert child.returncode == -9, child.stderr
    deepfeat.resume(runs / "killed")
    assert _mlflow_run(runs / "killed")[1].info.status == "FINISHED"
    logged = _epochs_logged(runs / "killed")
    assert "train/loss" in logged and all(steps == [1, 2, 3] for steps in logged.values()), logged


def test_a_run_resumed_after_ctrl_c_ends_finished_without_the_old_error(runs: Path, tracked, crash) -> None:
    with pytest.raises(KeyboardInterrupt):
        deepfeat.fit(tracked, out=runs / "b", callbacks=[crash(1, KeyboardInterrupt())])
    assert _mlflow_run(runs / "b")[1].data.tags["deepfeat.error"].startswith("KeyboardInterrupt")
    deepfeat.resume(runs / "b")
    client, logged = _mlflow_run(runs / "b")
    assert logged.info.status == "FINISHED" and logged.data.tags["deepfeat.status"] == "completed"
    assert not [k for k in logged.data.tags if k.startswith("deepfeat.error")], logged.data.tags
    assert [m.step for m in client.get_metric_history(logged.info.run_id, "train/loss")] == [1, 2]


def test_evaluate_logs_the_new_metrics_to_the_runs_mlflow_run_once(runs: Path, tracked) -> None:
    deepfeat.fit(tracked, out=runs / "c")
    assert "knn/accuracy" not in _mlflow_run(runs / "c")[1].data.metrics
    results = deepfeat.evaluate(runs / "c", protocol="knn")
    client, logged = _mlflow_run(runs / "c")
    assert logged.info.status == "FINISHED"
    assert logged.data.metrics["knn/accuracy"] == pytest.approx(results.evaluations["knn"]["accuracy"])
    deepfeat.evaluate(runs / "c", protocol="knn")  # the same numbers again: nothing new to record
    assert len(client.get_metric_history(logged.info.run_id, "knn/accuracy")) == 1
    assert len(client.get_metric_history(logged.info.run_id, "linear_probe/accuracy")) == 1
    assert len(client.search_runs([logged.info.experiment_id])) == 1  # no second MLflow run for the evaluation


# -- a study's parent run, shared by the processes of a search -------------------------------------------------------

SPACE = {"optimizer.lr": {"low": 1e-3, "high": 1e-2, "log": True}}


def _parents_and_children(runs: Path) -> tuple[list, list]:
    client = mlflow.MlflowClient(f"sqlite:///{(runs / 'mlflow.db').resolve()}")
    logged = client.search_runs([e.experiment_id for e in client.search_experiments()])
    parents = [r for r in logged if "mlflow.parentRunId" not in r.data.tags]
    return parents, [r for r in logged if "mlflow.parentRunId" in r.data.tags]


def test_a_study_parent_run_stays_open_while_another_process_runs_a_trial(runs: Path, tracked) -> None:
    optuna = pytest.importorskip("optuna")
    from deepfeat.run.search_space import read_space
    from deepfeat.run.tune import tune

    tracked["training"]["epochs"] = 1
    url = f"sqlite:///{(runs / 'st').resolve()}/study.db"
    (runs / "st").mkdir()
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        store = optuna.storages.RDBStorage(url, heartbeat_interval=10, grace_period=60)
    study = optuna.create_study(study_name="st", storage=store, direction="minimize")
    other = study.ask()  # another process's trial: drawn, its heartbeat fresh, not told yet
    for p in read_space(SPACE):
        p.suggest(other)
    store.record_heartbeat(other._trial_id)
    tune(tracked, SPACE, trials=1, study="st", out=runs / "st", pruner="none")
    parents, children = _parents_and_children(runs)
    assert len(parents) == 1 and len(children) == 1
    assert parents[0].info.status == "RUNNING"  # the other process still works in the study
    study.tell(other, 1.0)
    tune(tracked, SPACE, trials=1, study="st", out=runs / "st", pruner="none")  # the other process leaves: the last
    parents, _ = _parents_and_children(runs)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"


TUNE_WORKER = """
import sys, yaml
from deepfeat.run.tune import tune
tune(yaml.safe_load(open(sys.argv[1])), {space}, trials=3, study="st", out=sys.argv[2], pruner="none")
"""


@pytest.mark.slow
def test_two_tune_processes_share_one_parent_run_closed_by_the_last_to_finish(runs: Path, tracked) -> None:
    pytest.importorskip("optuna")
    tracked["training"]["epochs"] = 1
    config = runs.parent / "tiny.yaml"
    config.write_text(yaml.safe_dump(tracked))
    code = TUNE_WORKER.format(space=repr(SPACE))
    workers = [subprocess.Popen([sys.executable, "-c", code, str(config), str(runs / "st")], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(SRC)})
               for _ in range(2)]
    for proc in workers:
        assert proc.wait(timeout=600) == 0, proc.stderr.read()[-2000:]
    parents, children = _parents_and_children(runs)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED", [p.info for p in parents]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert len(children) >= 3 and all(c.info.status == "FINISHED" for c in children)
    assert parents[0].info.end_time >= max(c.info.end_time for c in children)  # closed after every trial ended
