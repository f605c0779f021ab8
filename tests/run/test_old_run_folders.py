"""Run folders written by deepfeat 0.1 before the run layer (fixtures/v0.1-*: config, metrics, results, model;
checkpoints and plots left out) still load, apply, re-report and re-evaluate, copied to a temporary folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import deepfeat

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def old_run(tmp_path: Path, request) -> Path:
    return Path(shutil.copytree(FIXTURES / request.param, tmp_path / request.param))


@pytest.mark.parametrize("old_run", ["v0.1-denoising"], indirect=True)
def test_an_old_denoising_run_re_reports_then_re_evaluates_with_its_headline(old_run: Path) -> None:
    run = deepfeat.load(old_run)
    assert run.results.status == "completed" and run.results.headline is None  # written before headlines
    assert "test accuracy" not in (deepfeat.report(old_run)).read_text()  # no classifier card for an autoencoder
    results = deepfeat.evaluate(old_run)
    assert [c["label"] for c in results.headline][:2] == ["denoised PSNR", "noisy PSNR"]
    assert '<div class="label">denoised PSNR</div>' in (old_run / "report.html").read_text()


@pytest.mark.parametrize("old_run", ["v0.1-gan"], indirect=True)
def test_an_old_gan_run_with_settings_in_the_learner_loads_and_samples(old_run: Path, caplog) -> None:
    assert json.loads((old_run / "model" / "model.json").read_text())["learner"]["eval_samples"] == 100
    run = deepfeat.load(old_run)
    assert run.config.evaluation.settings["generative"] == {"samples": 100} and "eval_samples" not in run.config.learner
    assert "deprecated" in caplog.text
    assert deepfeat.api.sample(old_run, 3, seed=0).shape == (3, 1, 8, 8)
    assert "gan_warnings" in run.results.evaluations  # what it recorded then is kept as it was
