"""Nothing poisoned is usable: a failed run's model is set aside and every command that applies it refuses, and no
command hands out or writes NaN/inf outputs."""

from __future__ import annotations

import re

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import deepfeat
from deepfeat.cli import main
from deepfeat.errors import CheckpointError, DataError, TrainingError


@pytest.fixture
def failed_run(tmp_path: Path, tiny, monkeypatch) -> Path:
    """A run whose features came out inf: it trained and exported, then its evaluation failed."""
    from deepfeat.learners.supervised import Classifier

    def inf_features(self, batch, names, inference=Classifier.inference):
        out = inference(self, batch, names)
        return {**out, **({"embed": torch.full_like(out["embed"], float("inf"))} if "embed" in out else {})}

    with monkeypatch.context() as patch:
        patch.setattr(Classifier, "inference", inf_features)
        with pytest.raises(TrainingError, match="not finite"):
            deepfeat.fit(tiny, out=tmp_path / "run")
    return tmp_path / "run"


def test_a_failed_run_sets_its_model_aside(failed_run: Path) -> None:
    assert json.loads((failed_run / "results.json").read_text())["status"] == "failed"
    assert not (failed_run / "model").exists() and (failed_run / "model.failed" / "model.safetensors").is_file()
    with pytest.raises(CheckpointError, match=r"got one that failed \(TrainingError after training: features of "):
        deepfeat.load(failed_run)


@pytest.mark.parametrize("argv", [["embed", "RUN", "--data", "digits", "--out", "OUT/z.npy"],
                                  ["score", "RUN", "--data", "digits", "--out", "OUT/s.csv"],
                                  ["evaluate", "RUN"],
                                  ["export", "RUN"],
                                  ["export", "RUN", "--format", "onnx", "--out", "OUT/m.onnx"]])
def test_commands_refuse_a_failed_runs_model_in_one_line(failed_run: Path, argv: list[str], tmp_path: Path,
                                                         capsys) -> None:
    argv = [a.replace("RUN", str(failed_run)).replace("OUT", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"run {failed_run}: expected a completed run, got one that failed" in err
    assert "features of the train split are not finite" in err and "model.failed/" in err
    assert not list(tmp_path.glob("*.npy")) + list(tmp_path.glob("*.csv")) + list(tmp_path.glob("*.onnx"))
    assert not (failed_run / "model").exists()


def test_a_failed_run_whose_model_was_left_in_place_is_still_refused(failed_run: Path, capsys) -> None:
    """A run folder that failed before models were set aside: its status alone refuses the model."""
    (failed_run / "model.failed").rename(failed_run / "model")
    assert main(["embed", str(failed_run), "--data", "digits", "--out", str(failed_run / "z.npy")]) == 2
    assert "got one that failed" in capsys.readouterr().err
    assert not (failed_run / "z.npy").exists()


def test_embed_refuses_non_finite_features_in_one_line_and_writes_nothing(finished_run: Path, tmp_path: Path,
                                                                           capsys) -> None:
    x = np.full((10, 1, 8, 8), 3e38, np.float32)  # finite input whose features overflow
    with pytest.raises(DataError, match=r"got \d+ non-finite of 160 .*The model or the input is at fault"):
        deepfeat.load(finished_run).embed(x)
    np.save(tmp_path / "x.npy", x)
    assert main(["embed", str(finished_run), "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "z.npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "non-finite" in err and "the model or the input is at fault" in err.lower()
    assert not (tmp_path / "z.npy").exists()


def test_embed_of_a_dataset_refuses_a_model_with_inf_weights(run_copy: Path, tmp_path: Path, capsys) -> None:
    """A model file whose weights hold inf (written by hand, or by a version that exported them): 100% non-finite."""
    from safetensors.torch import load_file, save_file

    from deepfeat.engine.checkpoint import write_checksum

    weights = run_copy / "model" / "model.safetensors"
    state = load_file(str(weights))
    state = {k: torch.full_like(v, float("inf")) if v.is_floating_point() else v for k, v in state.items()}
    save_file(state, str(weights))
    write_checksum(weights)
    assert main(["embed", str(run_copy), "--data", "digits", "--out", str(tmp_path / "z.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(r"non-finite of \d+ \(100.0%\)", err)  # refused at the first batch
    assert not (tmp_path / "z.csv").exists()


def test_sample_refuses_non_finite_samples(tmp_path: Path, tiny) -> None:
    tiny["learner"], tiny["training"]["epochs"] = {"name": "vae", "code_dim": 4}, 1
    tiny["evaluation"]["protocol"] = []
    run = deepfeat.fit(tiny, out=tmp_path / "vae")
    with torch.no_grad():
        for p in run.learner.parameters():
            p.fill_(float("inf"))
    with pytest.raises(DataError, match=r"non-finite of 640 \(100.0%\)"):
        deepfeat.run.apply.sample(run, n=10)
