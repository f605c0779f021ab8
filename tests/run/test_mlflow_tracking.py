"""MLflow tracking against the real library: a run's params, metric history, results, tags and artifacts read back
with MlflowClient from the local SQLite store; the model reloads from the logged artifact; resume continues the
same MLflow run; failures end FAILED with the error; compare makes one parent run and a child per run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

import deepfeat
from deepfeat.engine.callbacks import Callback
from deepfeat.run.compare import compare
from deepfeat.run.model_io import load_model

mlflow = pytest.importorskip("mlflow")

TINY = {"name": "tiny", "data": {"name": "digits", "val_fraction": 0.1, "test_fraction": 0.2},
        "encoder": {"name": "mlp", "hidden": [16]}, "optimizer": {"name": "adam", "lr": 0.01},
        "training": {"epochs": 2, "batch_size": 128, "progress": "none", "monitor": "val/acc", "mode": "max"},
        "evaluation": {"embedding_plots": [], "protocol": ["knn"], "knn_k": [5]},
        "logging": {"mlflow": True, "plots": True, "report": True}}


class Boom(Callback):
    """Raise ``error`` at the end of epoch ``at`` (after the checkpoint is written)."""

    def __init__(self, at: int, error: BaseException) -> None:
        self.at, self.error = at, error

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        if epoch + 1 == self.at:
            raise self.error


def _ids(run_dir: Path) -> dict:
    return json.loads((run_dir / "tracking.json").read_text())["mlflow"]


def test_a_fit_is_logged_and_its_model_reloads_from_the_artifact(tmp_path, runs) -> None:
    run = deepfeat.fit(TINY, out=runs / "a")
    ids = _ids(run.dir)
    assert ids["tracking_uri"] == f"sqlite:///{(tmp_path / 'runs' / 'mlflow.db').resolve()}"  # the runs folder's store
    client = mlflow.MlflowClient(ids["tracking_uri"])
    found = client.search_runs([ids["experiment_id"]], filter_string="tags.`deepfeat.learner` = 'classifier'")
    assert [r.info.run_id for r in found] == [ids["run_id"]]
    logged = found[0]
    assert logged.info.status == "FINISHED" and logged.info.run_name == "a"
    assert client.get_experiment(ids["experiment_id"]).name == "tiny"
    params = logged.data.params
    assert params["optimizer.lr"] == "0.01" and params["encoder.hidden"] == "[16]" and params["training.epochs"] == "2"
    tags = logged.data.tags
    assert (tags["deepfeat.encoder"], tags["deepfeat.dataset"], tags["deepfeat.status"]) == ("mlp", "digits", "completed")
    assert tags["deepfeat.version"]
    # Per-epoch history: the same numbers as metrics.csv, the epoch as the step.
    rows = list(csv.DictReader((run.dir / "metrics.csv").open()))
    history = client.get_metric_history(ids["run_id"], "val/acc")
    assert [m.step for m in history] == [1, 2]
    assert [m.value for m in history] == pytest.approx([float(r["val/acc"]) for r in rows])
    # Final results: test metrics, evaluations, the best monitored value.
    metrics = logged.data.metrics
    assert metrics["test/acc"] == pytest.approx(run.results["test"]["test/acc"])
    assert metrics["knn/accuracy"] == pytest.approx(run.results["evaluations"]["knn"]["accuracy"])
    assert metrics["best/val/acc"] == pytest.approx(max(float(r["val/acc"]) for r in rows))
    names = {a.path for a in client.list_artifacts(ids["run_id"])}
    assert {"report.html", "results.json", "config.yaml", "metrics.csv", "plots", "model"} <= names
    # The model loads from the logged artifact with deepfeat's own loader and gives the run's features.
    local = Path(client.download_artifacts(ids["run_id"], "model", str(tmp_path / "download")))
    learner, info = load_model(local)
    x = info.normalize(torch.rand(5, *info.input_shape) * 16)
    with torch.no_grad():
        assert torch.allclose(learner.embed(x), run.learner.cpu().eval().embed(x), atol=1e-6)


def test_resume_continues_the_same_mlflow_run_and_failures_end_failed(tmp_path, runs) -> None:
    cfg = {**TINY, "logging": {"mlflow": True, "plots": False, "report": False}}
    with pytest.raises(KeyboardInterrupt):
        deepfeat.fit(cfg, out=tmp_path / "runs" / "b", callbacks=[Boom(1, KeyboardInterrupt())])
    ids = _ids(tmp_path / "runs" / "b")
    client = mlflow.MlflowClient(ids["tracking_uri"])
    assert client.get_run(ids["run_id"]).info.status == "KILLED"
    run = deepfeat.resume(tmp_path / "runs" / "b")
    assert _ids(run.dir)["run_id"] == ids["run_id"]  # the same MLflow run, not a new one
    again = client.get_run(ids["run_id"])
    assert again.info.status == "FINISHED" and again.data.tags["deepfeat.status"] == "completed"
    assert [m.step for m in client.get_metric_history(ids["run_id"], "val/acc")] == [1, 2]
    assert len(client.search_runs([ids["experiment_id"]])) == 1

    with pytest.raises(ValueError, match="exploded"):
        deepfeat.fit(cfg, out=tmp_path / "runs" / "c", callbacks=[Boom(1, ValueError("the loss exploded"))])
    failed = client.get_run(_ids(tmp_path / "runs" / "c")["run_id"])
    assert failed.info.status == "FAILED"
    assert failed.data.tags["deepfeat.error"] == "ValueError: the loss exploded"
    assert "results.json" in {a.path for a in client.list_artifacts(failed.info.run_id)}


def test_tracking_starts_before_the_timed_fit_and_says_its_run_id_and_store(runs, capsys) -> None:
    cfg = {**TINY, "training": {**TINY["training"], "epochs": 1, "progress": "line"},
           "logging": {"mlflow": True, "plots": False, "report": False}}
    run = deepfeat.fit(cfg, out=runs / "timed")
    ids = _ids(run.dir)
    err = capsys.readouterr().err
    line = f"tracking: MLflow run {ids['run_id']} at {ids['tracking_uri']}\n"
    # The banner is printed as the fit's clock starts: MLflow's start-up (seconds on a new store) came before it.
    assert err.count(line) == 1 and err.index(line) < err.index("training on")


def test_compare_logs_one_parent_run_and_a_child_per_run(tmp_path, runs) -> None:
    cfg = {**TINY, "training": {**TINY["training"], "epochs": 1}, "logging": {"mlflow": True, "plots": False, "report": False}}
    result = compare(cfg, grid={"optimizer.lr": [0.01, 0.001]}, out=tmp_path / "runs" / "cmp")
    client = mlflow.MlflowClient(f"sqlite:///{(tmp_path / 'runs' / 'mlflow.db').resolve()}")
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].data.params["grid.optimizer.lr"] == "[0.01, 0.001]"
    assert sorted(c.data.params["optimizer.lr"] for c in children) == ["0.001", "0.01"]
    assert {c.data.tags["deepfeat.run_dir"] for c in children} == {str((result.dir / r["dir"]).resolve()) for r in result.runs}
    assert "compare.csv" in {a.path for a in client.list_artifacts(parents[0].info.run_id)}
