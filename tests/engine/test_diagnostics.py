"""Diagnostics on real training runs: the verdicts a broken setup must get, and none for a healthy one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import deepfeat
from deepfeat.engine.diagnostics import (
    Diagnostics,
    DiagnosticsConfig,
    TrainingStats,
    watch_layers,
)
from deepfeat.engine.lr_find import lr_range_test
from deepfeat.engine.preflight import lint_bias_before_norm, lint_inputs
from deepfeat.eval.diagnose import loss_spikes, overfitting, plateau

CONFIGS = Path(__file__).resolve().parents[2] / "examples" / "configs"
QUIET = {"progress": "none", "batch_size": 64}
FAST_EVAL = {"embedding_plots": [], "protocol": ["knn"], "knn_k": [5]}
NO_FILES = {"plots": False, "report": False}


def _fit(tmp_path: Path, encoder: dict, optimizer: dict, epochs: int, **extra) -> deepfeat.Run:
    cfg = {"data": {"name": "digits"}, "encoder": {"name": "mlp", **encoder}, "optimizer": optimizer,
           "training": {**QUIET, "epochs": epochs}, "evaluation": FAST_EVAL, "logging": NO_FILES,
           "diagnostics": {"enabled": True, "every_n_steps": 10}, **extra}
    return deepfeat.fit(cfg, out=tmp_path / "run")


def _kinds(run: deepfeat.Run, severity: str = "warning") -> dict[str, dict]:
    return {f["kind"]: f for f in run.results["diagnostics"] if f["severity"] == severity}


def test_deep_sigmoid_with_he_init_vanishes(tmp_path) -> None:
    # Measured here: He-scaled weights do not push sigmoids into saturation (outputs stay in
    # 0.1..0.9); the signal instead collapses to the same output for every input, and the gradient
    # reaching layer 1 is ~1e-10 of the last layer's. Those are the verdicts, with the init as cause.
    run = _fit(tmp_path, {"hidden": [64] * 20, "activation": "sigmoid", "weight_init": "he_normal"},
               {"name": "adam", "lr": 1e-3}, epochs=2)
    kinds = _kinds(run)
    assert {"vanishing_gradients", "init_mismatch", "signal_vanishes", "plateau"} <= set(kinds), kinds
    vanishing = kinds["vanishing_gradients"]
    assert vanishing["layer"].startswith("layer 1 ") and "sigmoid" in vanishing["cause"]
    assert "he_normal" in vanishing["cause"] and "weight_init: auto" in vanishing["remedy"]
    assert "saturation" not in kinds


def test_sigmoid_with_large_init_saturates(tmp_path) -> None:
    run = _fit(tmp_path, {"hidden": [64] * 6, "activation": "sigmoid", "weight_init": {"name": "normal", "std": 1.0}},
               {"name": "adam", "lr": 1e-3}, epochs=1)
    sat = _kinds(run)["saturation"]
    assert "sigmoid" in sat["layer"] and "normal(std=1.0)" in sat["cause"]
    assert int(sat["evidence"].split("%")[0]) >= 30


def test_relu_with_huge_lr_gets_dead_units_with_remedy_and_report(tmp_path) -> None:
    run = _fit(tmp_path, {"hidden": [128] * 4, "activation": "relu", "weight_init": "he_normal"},
               {"name": "adam", "lr": 0.1}, epochs=3, logging={"plots": True, "report": True})
    dead = _kinds(run)["dead_units"]
    assert dead["layer"].startswith("layer ") and "relu" in dead["layer"]
    assert int(dead["evidence"].split("%")[0]) >= 40
    assert "lr 0.1" in dead["cause"] and "lower lr to <= 0.01" in dead["remedy"]
    for plot in ("gradient_flow.png", "activation_histograms.png"):
        assert (run.dir / "plots" / plot).stat().st_size > 10_000
    html = (run.dir / "report.html").read_text()
    assert "<h2>Diagnostics</h2>" in html and "units dead since epoch" in html


def test_healthy_example_config_gets_no_warning(tmp_path) -> None:
    cfg = deepfeat.load_config(CONFIGS / "digits_mlp.yaml", [
        "training.epochs=4", "training.progress=none", "diagnostics.enabled=true", "diagnostics.lr_check=true",
        "diagnostics.every_n_steps=5", "evaluation.embedding_plots=[]", "logging.plots=false", "logging.report=false"])
    run = deepfeat.fit(cfg, out=tmp_path / "run")
    assert _kinds(run) == {}, run.results["diagnostics"]
    saved = json.loads((run.dir / "results.json").read_text())
    assert saved["diagnostics"] == run.results["diagnostics"]
    assert len(saved["preflight"]["profile"]) == 3 and saved["preflight"]["lr_test"]["suggestion"] is not None


def test_diagnostics_do_not_change_the_math_and_hooks_come_off(tmp_path) -> None:
    base = deepfeat.load_config(CONFIGS / "digits_mlp.yaml", ["training.epochs=1", "training.progress=none",
                                                               "logging.plots=false", "logging.report=false",
                                                               "evaluation.embedding_plots=[]"])
    plain = deepfeat.fit(base, out=tmp_path / "plain")
    spy = Diagnostics(DiagnosticsConfig(enabled=True, every_n_steps=3))
    diag = deepfeat.fit(base, out=tmp_path / "diag", overrides=["diagnostics.enabled=true", "diagnostics.lr_check=true"],
                        callbacks=[spy])
    for (name, a), b in zip(plain.learner.state_dict().items(), diag.learner.state_dict().values()):
        assert torch.equal(a, b), name  # batch-norm statistics and dropout masks included
    assert not any(m._forward_hooks for m in diag.learner.modules())
    steps = diag.results["fit"]["steps"]
    assert [s["step"] for s in spy.stats.samples] == [1] + list(range(3, steps + 1, 3))
    assert len(spy.stats.losses) == steps


def test_lr_range_test_suggests_a_usable_lr_and_leaves_the_model_alone() -> None:
    from deepfeat.api import load_data
    from deepfeat.learners.build import build_learner

    cfg = deepfeat.load_config({"encoder": {"name": "mlp", "hidden": [64]}})
    data = load_data(cfg)
    learner = build_learner(cfg.learner, data.info, cfg.encoder, cfg.regularization)
    before = {k: v.clone() for k, v in learner.state_dict().items()}
    result = lr_range_test(learner, data.train, {"name": "adam"}, steps=60)
    assert 1e-4 <= result.suggestion <= 0.1, result
    assert result.smoothed[-1] > min(result.smoothed) or len(result.lrs) == 60
    assert all(torch.equal(before[k], v) for k, v in learner.state_dict().items())


def test_preflight_lints_raw_inputs_and_bias_before_batch_norm() -> None:
    (raw,) = lint_inputs(torch.rand(64, 10) * 255)
    assert raw.kind == "unnormalized_inputs" and "data.normalize: true" in raw.remedy
    assert lint_inputs(torch.randn(64, 10)) == []
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2, bias=False), nn.BatchNorm1d(2))
    (finding,) = lint_bias_before_norm(model)
    assert finding.layer == "0" and finding.severity == "info"
    assert [w.info.activation for w in watch_layers(model)] == ["relu", None]


def _stats(history: list[dict], losses: list[float] = ()) -> TrainingStats:
    return TrainingStats(history=history, losses=list(losses), steps_per_epoch=10, context={"optimizer": "sgd", "lr": 0.5})


def test_loss_spike_plateau_and_overfitting_rules() -> None:
    cfg = DiagnosticsConfig()
    calm = [2.0 - 0.01 * i for i in range(100)]
    assert loss_spikes(_stats([], calm), cfg) == []
    (spike,) = loss_spikes(_stats([], calm[:60] + [9.0] + calm[61:]), cfg)
    assert "step 61 (epoch 7)" in spike.evidence and "sgd lr 0.5" in spike.cause
    stuck = [{"train/loss": 2.30}, {"train/loss": 2.301}, {"train/loss": 2.299}]
    assert plateau(_stats(stuck, [2.3] * 30), cfg)[0].kind == "plateau"
    assert plateau(_stats([{"train/loss": 2.0}, {"train/loss": 0.5}], [2.3] * 30), cfg) == []
    def losses(pairs: list[tuple[float, float]]) -> TrainingStats:
        return _stats([{"train/loss": t, "val/loss": v} for t, v in pairs])

    history = [(1.0, 0.9), (0.5, 0.6), (0.2, 0.75), (0.05, 0.9)]
    (over,) = overfitting(losses(history), cfg)
    assert "from 0.6 (epoch 2) to 0.9 (epoch 4)" in over.evidence
    assert overfitting(losses(history[:2]), cfg) == []
    assert overfitting(losses([(1.0, 0.9), (0.5, 0.6), (0.2, 0.6), (0.05, 0.9)]), cfg) == []  # one noisy epoch
    # Diverging: train/loss falls from 5e6 to 1e6 while val/loss rises, but nothing was fitted: no overfitting.
    assert overfitting(losses([(5e6, 2.3), (3e6, 4.0), (2e6, 6.0), (1e6, 9.0)]), cfg) == []


@pytest.mark.parametrize("field,value", [("every_n_steps", 0), ("dead_share", 1.5)])
def test_bad_diagnostics_settings_fail_when_the_config_loads(field, value) -> None:
    with pytest.raises(deepfeat.ConfigError, match=f"diagnostics.{field}"):
        deepfeat.load_config({"diagnostics": {field: value}})
