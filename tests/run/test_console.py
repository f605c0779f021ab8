"""What the terminal says about a run: the model summary and the banner at the start, a line per phase after
training; the same summary in the run folder and the report."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import deepfeat
from deepfeat.data.info import DataInfo
from deepfeat.engine.summary import model_summary
from deepfeat.learners.build import build_learner


def test_a_fit_announces_what_runs_and_each_phase_after_training(tmp_path: Path, capsys) -> None:
    cfg = {"data": {"name": "digits"}, "encoder": {"name": "cnn", "channels": [8]},
           "training": {"epochs": 1, "batch_size": 64, "progress": "line"},
           "evaluation": {"embedding_plots": [], "protocol": ["knn"], "knn_k": [5]}}
    run = deepfeat.fit(cfg, out=tmp_path / "run")
    err = capsys.readouterr().err
    params = sum(p.numel() for p in run.learner.parameters())
    assert "Conv2d" in err and "Output Shape" in err  # the layer table, before training
    assert f"total: {params:,} parameters" in err
    banner = next(line for line in err.splitlines() if line.startswith("training on cpu"))
    assert "threads" in banner and "precision" in banner and "channels_last" in banner
    assert f"{params:,} parameters" in err and "1,258 train / 180 val / 359 test samples of (1, 8, 8)" in err
    after = err[err.index("after training:"):]
    for phase in ("export model", "test metrics, knn protocols", "report"):
        assert phase in after
    assert err.index("Output Shape") < err.index("training on cpu") < err.index("epoch 1/1") < err.index("after training:")
    summary = (run.dir / "model_summary.txt").read_text()
    assert "Conv2d" in summary and f"total: {params:,} parameters" in summary
    html = (run.dir / "report.html").read_text()
    assert "layers, output shapes and parameters" in html and "Conv2d" in html


def test_progress_none_prints_nothing_but_still_writes_the_summary(tmp_path: Path, capsys) -> None:
    cfg = {"data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [16]},
           "training": {"epochs": 1, "batch_size": 256, "progress": "none"},
           "evaluation": {"embedding_plots": [], "protocol": []}}
    run = deepfeat.fit(cfg, out=tmp_path / "quiet")
    assert capsys.readouterr().err == ""
    assert "Linear" in (run.dir / "model_summary.txt").read_text()


def test_the_summary_of_token_models_and_of_models_that_cannot_run_on_zeros() -> None:
    info = DataInfo("tokens", (12,), 2, ["ham", "spam"])
    learner = build_learner("classifier", info, {"name": "text_rnn", "vocab_size": 50, "embed_dim": 8, "hidden_size": 8})
    assert "Embedding" in model_summary(learner, info)  # token ids, not floats, go in

    class Picky(nn.Module):
        feature_dim = 3

        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not x.any():
                raise ValueError("all-zero input")
            return self.lin(x)

    vec = DataInfo("vector", (4,), 2)
    text = model_summary(build_learner("classifier", vec, Picky()), vec)
    assert "no layer table" in text and "all-zero input" in text and "total: 23 parameters" in text
