"""A fit that fails still explains itself: results.json with status "failed", a report, then the error."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import deepfeat
import deepfeat.run.workflow
from deepfeat.engine.callbacks import Callback

TINY = {"data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [16]},
        "optimizer": {"name": "adam", "lr": 0.01},
        "training": {"epochs": 4, "batch_size": 128, "progress": "none", "threads": 1},
        "evaluation": {"embedding_plots": [], "protocol": ["knn"]}}


class Boom(Callback):
    """Raises ``error`` at the end of epoch ``at`` (1-based), as a bug in user code or a Ctrl-C would."""

    def __init__(self, at: int, error: BaseException | None = None) -> None:
        self.at, self.error = at, error or RuntimeError("boom in a user callback")

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        if epoch + 1 == self.at:
            raise self.error


def results(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())


def test_a_non_finite_stop_writes_a_failed_results_json_with_the_verdicts(tmp_path) -> None:
    cfg = {**TINY, "optimizer": {"name": "sgd", "lr": 1.0e30}, "diagnostics": {"enabled": True, "preflight": False}}
    with pytest.raises(deepfeat.TrainingError, match="non-finite losses in a row"):
        deepfeat.fit(cfg, out=tmp_path / "run")
    r = results(tmp_path / "run")
    assert r["status"] == "failed"
    assert r["error"]["type"] == "TrainingError" and "non-finite" in r["error"]["message"]
    assert r["error"]["epoch"] == 1 and r["error"]["step"] >= 5 and r["error"]["last_checkpoint"] is None
    assert "nonfinite" in [f["kind"] for f in r["diagnostics"]]  # the verdict that explains the failure
    assert "test" not in r and r["fit"]["skipped_steps"] >= 5
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Training failed" in html and "non-finite losses in a row" in html and "No checkpoint was written" in html


def test_an_exception_mid_training_is_recorded_then_re_raised(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="boom in a user callback"):
        deepfeat.fit(TINY, out=tmp_path / "run", callbacks=[Boom(at=2)])
    run = tmp_path / "run"
    r = results(run)
    assert r["status"] == "failed" and r["error"]["type"] == "RuntimeError"
    assert r["error"]["epoch"] == 2 and r["fit"]["epochs"] == 2
    assert Path(r["error"]["last_checkpoint"]) == run / "checkpoints" / "last.pt"
    assert (run / "checkpoints" / "last.pt").is_file()
    assert len(list(csv.DictReader((run / "metrics.csv").open()))) == 2
    html = (run / "report.html").read_text()
    assert "Training failed" in html and "boom in a user callback" in html and "last.pt" in html
    assert "training_curves" in (run / "plots" / "index.json").read_text()  # the epochs that ran are plotted


def test_ctrl_c_is_recorded_as_interrupted(tmp_path) -> None:
    cfg = {**TINY, "logging": {"plots": False, "report": False}}
    with pytest.raises(KeyboardInterrupt):
        deepfeat.fit(cfg, out=tmp_path / "run", callbacks=[Boom(at=1, error=KeyboardInterrupt())])
    r = results(tmp_path / "run")
    assert r["status"] == "interrupted" and r["error"]["type"] == "KeyboardInterrupt"
    assert not (tmp_path / "run" / "report.html").exists()  # logging.report: false is respected


def test_a_completed_run_says_so(tmp_path) -> None:
    run = deepfeat.fit({**TINY, "training": {**TINY["training"], "epochs": 1}, "logging": {"plots": False, "report": False}},
                       out=tmp_path / "run")
    assert run.results["status"] == "completed" and results(run.dir)["status"] == "completed"


def test_recording_the_failure_never_masks_the_error(tmp_path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(deepfeat.run.workflow, "write_results", broken)
    with pytest.raises(RuntimeError, match="boom in a user callback"):
        deepfeat.fit(TINY, out=tmp_path / "run", callbacks=[Boom(at=1)])


def test_a_failure_after_training_is_recorded_with_its_phase(tmp_path, monkeypatch) -> None:
    """Training ends, then evaluation raises: the run folder still says what happened, and the error goes on."""
    def broken(*args, **kwargs):
        raise ValueError("evaluation exploded")

    monkeypatch.setattr(deepfeat.run.workflow, "evaluate_learner", broken)
    with pytest.raises(ValueError, match="evaluation exploded"):
        deepfeat.fit({**TINY, "training": {**TINY["training"], "epochs": 2}}, out=tmp_path / "run")
    r = results(tmp_path / "run")
    assert r["status"] == "failed" and r["error"]["phase"] == "after training" and r["fit"]["epochs"] == 2
    # exported before evaluation failed, then set aside: a failed run's model is not used
    assert (tmp_path / "run" / "model.failed" / "model.safetensors").is_file()
    assert not (tmp_path / "run" / "model").exists()
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Run failed after training" in html and "evaluation exploded" in html
