"""Every learner's declarations hold, and every evaluation, figure and observer it declares runs on it.

Parametrized over the learner registry, so a family registered tomorrow is checked the day it is
registered: its capabilities meet their protocols, its declared names exist in the run layer's
registries, and each declared evaluation and figure produces a result / a file on tiny data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import deepfeat  # noqa: F401  (registers everything)
from deepfeat.config import Config
from deepfeat.engine.device import resolve_precision
from deepfeat.engine.fit_batches import FitBatches
from deepfeat.learners.base import Learner
from deepfeat.errors import ConfigError
from deepfeat.learners.build import LEARNERS, build_learner, check_declarations, declared_by
from deepfeat.learners.capabilities import CAPABILITIES
from deepfeat.run.produce import draw_figures, headline, run_evaluations
from deepfeat.eval.evaluations import EVALUATIONS, evaluation_spec
from deepfeat.run.registries import FIGURES, OBSERVERS, Observer, RunContext

SMALL = Config.from_dict({"evaluation": {"max_samples": 64}})


def _built(name: str, learner_case) -> tuple[Learner, object]:
    data, encoder, spec = learner_case(name)
    return build_learner(spec, data.info, encoder).eval(), data


@pytest.mark.parametrize("name", LEARNERS.names())
def test_declarations_are_registered_and_capabilities_keep_their_protocols(name: str, learner_case) -> None:
    learner, _ = _built(name, learner_case)
    assert learner.capabilities <= CAPABILITIES.keys(), learner.capabilities
    for capability in learner.capabilities:
        assert isinstance(learner, CAPABILITIES[capability]), f"{name} declares {capability} but lacks its methods"
        assert learner.can(capability)
    assert not learner.can("no such capability")
    for names, registry in ((learner.evaluations, EVALUATIONS), (learner.figures, FIGURES),
                            (learner.observers, OBSERVERS)):
        assert all(n in registry for n in names), (names, registry.names())
    for label, key in learner.headline:
        assert label and key.split(".", 1)[0] in ("test", "evaluations"), (label, key)
    # What the trainer reads is declared with a default, never probed.
    assert isinstance(learner.update_intervals, tuple) and isinstance(learner.find_unused_parameters, bool)
    assert learner.ddp_parts is None or all(hasattr(learner, m) for m in learner.ddp_parts)


@pytest.mark.parametrize("name", LEARNERS.names())
def test_every_declared_evaluation_figure_and_observer_runs(name: str, learner_case, tmp_path: Path) -> None:
    learner, data = _built(name, learner_case)
    precision = resolve_precision("fp32", torch.device("cpu"), learner)
    learner.on_fit_end(FitBatches(data.train, 16, 0), precision.prepare_input, precision.autocast)  # as after a fit
    ctx = RunContext(learner, data, precision, SMALL, tmp_path)
    results = run_evaluations(ctx)
    for evaluation in learner.evaluations:
        if evaluation_spec(evaluation).opt_in:  # costly extra trainings: only with settings
            assert evaluation not in results
            continue
        assert isinstance(results[evaluation], dict) and results[evaluation], evaluation
    written = draw_figures(ctx)
    assert all(p.is_file() and p.suffix in (".png", ".html") for p in written)  # .html: the feature explorer
    index = {e["name"] for e in json.loads((tmp_path / "plots" / "index.json").read_text())} if written else set()
    assert {p.stem for p in written} <= index  # each figure is listed for the report
    for observer in learner.observers:
        assert isinstance(OBSERVERS.get(observer)(learner, tmp_path), Observer)
    cards = headline(learner, {"evaluations": results})
    assert all(isinstance(c["value"], (int, float)) for c in cards)


@pytest.mark.parametrize("name", LEARNERS.names())
def test_declarations_are_read_from_the_registry_entry_and_hold_together(name: str) -> None:
    holder = declared_by(name)  # without building the learner
    assert holder is not None, f"{name}'s factory does not name the class that declares"
    check_declarations(name)  # each headline path is an output its evaluations declare, each requirement a capability
    for evaluation in holder.evaluations:
        assert evaluation_spec(evaluation).requires <= holder.capabilities


def test_a_misspelled_headline_path_or_a_missing_capability_fails_the_declaration_check() -> None:
    base = declared_by("autoencoder")
    wrong_path = type("WrongPath", (base,), {"headline": (("test PSNR", "evaluations.reconstruction.pnsr"),)})
    with pytest.raises(ConfigError, match=r"headline 'test PSNR' at learner headline: .*got 'evaluations.reconstruction.pnsr'"):
        check_declarations(wrong_path)
    undeclared = type("Undeclared", (base,), {"headline": (("SNR gain", "evaluations.denoising.snr_gain"),)})
    with pytest.raises(ConfigError, match="headline 'SNR gain'"):
        check_declarations(undeclared)  # an output of an evaluation this learner does not run
    not_a_denoiser = type("NotADenoiser", (base,), {"evaluations": ("denoising",)})
    with pytest.raises(ConfigError, match="evaluation 'denoising' at learner evaluations: expected a learner that declares denoises"):
        check_declarations(not_a_denoiser)


def test_evaluation_settings_are_checked_before_any_work() -> None:
    from deepfeat.run.registries import check_settings

    check_settings(Config.from_dict({"evaluation": {"settings": {"anomaly": {"quantile": 0.99}, "fewshot": {"draws": 2}}}}))
    with pytest.raises(ConfigError, match="evaluation.settings"):
        check_settings(Config.from_dict({"evaluation": {"settings": {"anomaly": {"quantil": 0.99}}}}))
    with pytest.raises(ConfigError, match="Did you mean 'anomaly'"):
        check_settings(Config.from_dict({"evaluation": {"settings": {"anomali": {}}}}))


def test_learner_evaluation_settings_moved_out_of_the_learner_still_load(caplog) -> None:
    cfg = Config.from_dict({"learner": {"name": "transfer", "low_label": {"labels_per_class": [1, 5]}}})
    assert "low_label" not in cfg.learner
    assert cfg.evaluation.settings["low_label"] == {"labels_per_class": [1, 5]}
    gan = Config.from_dict({"learner": {"name": "dcgan", "eval_samples": 500, "fid_classifier": None}})
    assert gan.evaluation.settings["generative"] == {"samples": 500} and "eval_samples" not in gan.learner
    assert "deprecated" in caplog.text


def test_headline_reads_declared_paths_and_skips_what_was_not_measured(learner_case) -> None:
    learner, _ = _built("denoising", learner_case)
    results = {"evaluations": {"denoising": {"psnr_denoised": 21.0, "psnr_noisy": 6.0}, "anomaly": {"threshold": 1.0}}}
    cards = headline(learner, results)
    assert [c["label"] for c in cards] == ["denoised PSNR", "noisy PSNR"]  # no SSIM (vectors), no ROC (not one-class)
    assert cards[0] == {"label": "denoised PSNR", "key": "evaluations.denoising.psnr_denoised", "value": 21.0}
