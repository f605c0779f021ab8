"""The run layer end to end on digits: each learner's run leads with its own metrics, and a run that goes
wrong after training (NaN features, diverged weights) ends failed, truthfully, with a report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import yaml

import deepfeat
from deepfeat.cli import main
from deepfeat.errors import TrainingError

QUICK = {"training": {"epochs": 1, "batch_size": 64, "progress": "none"},
         "evaluation": {"embedding_plots": [], "protocol": ["knn"], "knn_k": [5]}}


def _cards(report: Path) -> list[str]:
    """The report's card labels, in order."""
    return re.findall(r'<div class="label">([^<]+)</div>', report.read_text())


def test_denoising_run_leads_with_psnr_and_draws_no_anomaly_histogram(tmp_path: Path) -> None:
    cfg = {**QUICK, "data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [32]},
           "learner": {"name": "denoising", "code_dim": 8}}
    run = deepfeat.fit(cfg, out=tmp_path / "dae")
    labels = [c["label"] for c in run.results["headline"]]
    assert labels[:2] == ["denoised PSNR", "noisy PSNR"]
    assert run.results["headline"][0]["value"] == run.results["evaluations"]["denoising"]["psnr_denoised"]
    cards = _cards(run.dir / "report.html")
    assert cards[:2] == ["denoised PSNR", "noisy PSNR"] and "test accuracy" not in cards
    assert {"device", "parameters"} <= set(cards)
    plots = {p.stem for p in (run.dir / "plots").glob("*.png")}
    assert "reconstructions" in plots and "anomaly_scores" not in plots
    saved = json.loads((run.dir / "results.json").read_text())
    assert saved["fit"]["parameters"] == sum(p.numel() for p in run.learner.parameters())


def test_classifier_run_leads_with_test_accuracy_and_settings_show_once(tmp_path: Path) -> None:
    cfg = {**QUICK, "data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [32]}}
    run = deepfeat.fit(cfg, out=tmp_path / "clf")
    assert _cards(run.dir / "report.html")[0] == "test accuracy"
    html = (run.dir / "report.html").read_text()
    knn_rows = html.count("<code>k=5</code>")
    assert knn_rows == 1  # the kNN settings on its first row only, not on each of its metric rows
    assert (run.dir / "plots" / "confusion_matrix.png").is_file()


def test_nan_features_end_the_run_failed_with_a_report_and_no_plot_of_them(tmp_path: Path, monkeypatch) -> None:
    from deepfeat.learners.supervised import Classifier

    def nan_features(self, batch, names, inference=Classifier.inference):  # the features every evaluation reads
        out = inference(self, batch, names)
        return {**out, **({"embed": torch.full_like(out["embed"], float("nan"))} if "embed" in out else {})}

    monkeypatch.setattr(Classifier, "inference", nan_features)
    cfg = {**QUICK, "data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [16]},
           "evaluation": {"embedding_plots": ["tsne"], "protocol": ["knn"], "knn_k": [5]}}
    with pytest.raises(TrainingError, match="features of the train split are not finite"):
        deepfeat.fit(cfg, out=tmp_path / "nan")
    saved = json.loads((tmp_path / "nan" / "results.json").read_text())
    assert saved["status"] == "failed" and saved["error"]["phase"] == "after training"
    assert "not finite" in (tmp_path / "nan" / "report.html").read_text()
    assert not (tmp_path / "nan" / "plots" / "embedding_tsne.png").exists()


def test_diverged_weights_are_never_exported(tmp_path: Path) -> None:
    """Non-finite steps are skipped before they reach the weights; weights that still end non-finite (an update
    that overflowed, here injected after the last epoch) stop the run before anything is exported."""
    class Overflow(deepfeat.engine.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            with torch.no_grad():
                next(trainer.learner.parameters())[0, 0] = float("inf")

    cfg = {**QUICK, "data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [16]},
           "training": {**QUICK["training"], "restore_best": False}}
    with pytest.raises(TrainingError, match="weights after training are not finite"):
        deepfeat.fit(cfg, out=tmp_path / "big", callbacks=[Overflow()])
    assert not (tmp_path / "big" / "model" / "model.safetensors").exists()
    saved = json.loads((tmp_path / "big" / "results.json").read_text())
    assert saved["status"] == "failed" and "diverged" in saved["error"]["message"]


def test_fit_says_where_the_run_and_its_report_are_and_announces_only_figures_that_apply(tmp_path: Path,
                                                                                        capsys) -> None:
    cfg = {**QUICK, "training": {**QUICK["training"], "progress": "line"}, "data": {"name": "digits"},
           "encoder": {"name": "mlp", "hidden": [16]}}
    run = deepfeat.fit(cfg, out=tmp_path / "run")
    out, err = capsys.readouterr()
    accuracy = run.results["headline"][0]["value"]
    assert out.startswith(f"done: test accuracy {accuracy:.4g}")
    assert f"run folder: {run.dir}\n" in out and f"report:     {run.dir / 'report.html'}\n" in out
    assert "figure confusion_matrix" in err and "audio_examples" not in err  # no sound on digits: not announced
    assert list(run.results)[:3] == ["status", "data", "fit"] and dict(run.results.items())["test"] == run.results.test

    # The CLI, which prints the summary itself when progress is off, prints it once.
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({**cfg, "logging": {"plots": False}}))
    assert main(["fit", "-c", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "cli")]) == 0
    out = capsys.readouterr().out
    assert out.count("done: ") == 1 and out.count(f"run folder: {tmp_path / 'cli'}\n") == 1


def test_training_threads_hold_for_the_whole_run_and_are_put_back(tmp_path, monkeypatch) -> None:
    """The evaluation after training runs with ``training.threads`` too; the process's count is back afterwards."""
    import deepfeat.run.workflow as workflow

    seen, evaluate = [], workflow._evaluate
    monkeypatch.setattr(workflow, "_evaluate", lambda *a, **k: seen.append(torch.get_num_threads()) or evaluate(*a, **k))
    cfg = {"data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [16]},
           "training": {"epochs": 1, "batch_size": 256, "progress": "none", "threads": 2},
           "evaluation": {"protocol": [], "embedding_plots": []}, "logging": {"plots": False, "report": False}}
    assert torch.get_num_threads() == 1  # as tests/conftest.py sets it
    deepfeat.fit(cfg, out=tmp_path / "run")
    assert seen == [2] and torch.get_num_threads() == 1
