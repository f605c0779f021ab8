"""Every run file is verified: results.json, metrics.csv, config.yaml and model/ carry ``.sha256`` sidecars, and a
damaged one (changed bytes, unknown keys, wrong types) is one line naming the file and how to get it back."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

import deepfeat
from deepfeat.cli import main
from deepfeat.errors import DataError
from deepfeat.layout import RunPaths
from deepfeat.run.results import Results, read_metrics_file, read_results_file, write_results

FILES = ["results.json", "metrics.csv", "config.yaml"]  # model/'s sidecars: test_model_faults.py


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} in results.json: not JSON")


def _flip(path: Path, at: int = 40) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _one_line_error(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize("name", FILES)
def test_every_run_file_has_a_sha256sum_sidecar(finished_run: Path, name: str) -> None:
    path = finished_run / name
    digest, file_name = (finished_run / f"{name}.sha256").read_text().split()
    assert (digest, file_name) == (hashlib.sha256(path.read_bytes()).hexdigest(), path.name)


@pytest.mark.parametrize("edit", ["flipped key", "unknown key", "wrong type"])
def test_damaged_model_json_without_its_sidecar_is_one_line_naming_export(run_copy: Path, edit: str, capsys,
                                                                          tmp_path: Path) -> None:
    meta_path = run_copy / "model" / "model.json"
    (run_copy / "model" / "model.json.sha256").unlink()
    text = meta_path.read_text()
    if edit == "flipped key":  # the byte flip the sidecar would have caught: split_classes -> sqlit_classes
        text = text.replace('"split_classes"', '"sqlit_classes"')
    elif edit == "unknown key":
        text = text.replace('"format"', '"extra": 1, "format"', 1)
    else:
        text = text.replace('"num_classes": 10', '"num_classes": "10x"')
    meta_path.write_text(text)
    err = _one_line_error(["embed", str(run_copy), "--data", "digits", "--out", str(tmp_path / "z.npy")], capsys)
    assert str(meta_path) in err and f"`deepfeat export {run_copy}`" in err
    assert not (tmp_path / "z.npy").exists()
    assert main(["export", str(run_copy)]) == 0  # the fix it names works: model/ rebuilt from the checkpoint
    assert deepfeat.load(run_copy).embed(np.zeros((2, 1, 8, 8))).shape == (2, 16)


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "unknown key"])
def test_damaged_results_json_is_one_line_naming_evaluate_which_writes_it_again(run_copy: Path, damage: str,
                                                                                capsys) -> None:
    path = run_copy / "results.json"
    if damage == "flipped byte":
        _flip(path)
    elif damage == "truncated":
        path.write_text(path.read_text()[:100])
        (run_copy / "results.json.sha256").unlink()
    else:
        path.write_text(json.dumps({**json.loads(path.read_text()), "tset": {}}))
        (run_copy / "results.json.sha256").unlink()
    err = _one_line_error(["export", str(run_copy), "--format", "safetensors"], capsys)
    assert str(path) in err and err.rstrip().endswith(f"Write it again: `deepfeat evaluate {run_copy}`.")
    assert main(["evaluate", str(run_copy)]) == 0
    results = read_results_file(RunPaths(run_copy))
    assert results.status == "completed" and results.test["test/acc"] > 0.5


def test_damaged_results_json_of_an_interrupted_run_names_resume(tmp_path: Path, tiny, crash) -> None:
    with pytest.raises(RuntimeError):
        deepfeat.fit(tiny, out=tmp_path / "run", callbacks=[crash(1)])
    _flip(tmp_path / "run" / "results.json")
    with pytest.raises(DataError, match=r"failed its checksum.*Finish the run, which writes it again: `deepfeat resume"):
        read_results_file(RunPaths(tmp_path / "run"))
    assert deepfeat.resume(tmp_path / "run").results.status == "completed"


@pytest.mark.parametrize("damage", ["flipped byte", "bad yaml", "unknown key", "missing"])
def test_broken_config_yaml_of_a_finished_run_names_export_which_restores_it(run_copy: Path, damage: str,
                                                                            capsys, caplog, tmp_path: Path) -> None:
    path = run_copy / "config.yaml"
    if damage == "flipped byte":
        _flip(path)
    elif damage == "missing":
        path.unlink()
    else:
        path.write_text("training: [unclosed" if damage == "bad yaml" else path.read_text() + "epochz: 3\n")
        (run_copy / "config.yaml.sha256").unlink()
    err = _one_line_error(["embed", str(run_copy), "--data", "digits", "--out", str(tmp_path / "z.npy")], capsys)
    assert str(path) in err and f"`deepfeat export {run_copy}` (a finished run)" in err
    with caplog.at_level(logging.WARNING, logger="deepfeat"):
        assert main(["export", str(run_copy)]) == 0
    assert "rewrote it from the checkpoint's copy" in caplog.text
    assert yaml.safe_load(path.read_text())["encoder"]["hidden"] == [32, 16]
    assert main(["embed", str(run_copy), "--data", "digits", "--out", str(tmp_path / "z.npy")]) == 0


def test_resume_rewrites_a_broken_config_yaml_from_the_checkpoint(tmp_path: Path, tiny, crash, caplog,
                                                                  capsys) -> None:
    run = tmp_path / "run"
    with pytest.raises(RuntimeError):
        deepfeat.fit(tiny, out=run, callbacks=[crash(1)])
    _flip(run / "config.yaml")
    with caplog.at_level(logging.WARNING, logger="deepfeat"):
        deepfeat.resume(run)
    assert f"{run / 'config.yaml'} was missing or damaged: rewrote it from the checkpoint's copy" in caplog.text
    for argv in (["evaluate", str(run)], ["export", str(run), "--out", str(tmp_path / "m")],
                 ["embed", str(run), "--data", "digits", "--out", str(tmp_path / "z.npy")]):
        assert main(argv) == 0, capsys.readouterr().err


def test_damaged_metrics_csv_is_refused_and_resume_writes_it_again(tmp_path: Path, tiny, crash) -> None:
    run = tmp_path / "run"
    with pytest.raises(RuntimeError):
        deepfeat.fit(tiny, out=run, callbacks=[crash(1)])
    _flip(run / "metrics.csv", at=60)
    with pytest.raises(DataError, match=r"metrics file .*metrics.csv failed its checksum.*`deepfeat resume"):
        read_metrics_file(RunPaths(run))
    deepfeat.resume(run)
    assert [r["epoch"] for r in read_metrics_file(RunPaths(run))] == [1.0, 2.0]


def test_results_json_is_strict_json_and_lists_what_was_not_finite(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    results = Results(test={"test/loss": float("nan"), "test/acc": 0.5},
                      evaluations={"knn": {"acc": np.float32("inf"), "curve": [1.0, float("-inf")]}})
    write_results(paths, results)
    raw = json.loads(paths.results.read_text(), parse_constant=_refuse)
    assert raw["test"] == {"test/loss": None, "test/acc": 0.5} and raw["evaluations"]["knn"]["acc"] is None
    assert raw["nonfinite"] == ["evaluations.knn.acc", "evaluations.knn.curve[1]", "test.test/loss"]
    again = read_results_file(paths)
    again.test["test/acc"] = 0.6
    write_results(paths, again)  # still null: still listed
    assert read_results_file(paths).nonfinite == raw["nonfinite"]
    raw["test"]["test/loss"] = float("nan")  # the literal NaN older versions wrote, without a sidecar
    paths.results.write_text(json.dumps(raw))
    paths.results.with_name("results.json.sha256").unlink()
    assert np.isnan(read_results_file(paths).test["test/loss"])


def test_a_run_whose_test_loss_is_nan_completes_with_strict_json(tmp_path: Path, tiny, monkeypatch) -> None:
    from deepfeat.run import workflow

    def nan_loss(*args, evaluate=workflow.evaluate_learner, **kwargs):  # as a diverged run measures it
        measured, features = evaluate(*args, **kwargs)
        measured["test"]["test/loss"] = float("nan")
        return measured, features

    monkeypatch.setattr(workflow, "evaluate_learner", nan_loss)
    run = deepfeat.fit(tiny, out=tmp_path / "run")
    raw = json.loads((run.dir / "results.json").read_text(), parse_constant=_refuse)
    assert raw["status"] == "completed" and raw["test"]["test/loss"] is None and raw["nonfinite"] == ["test.test/loss"]
    assert deepfeat.load(run.dir).results.nonfinite == ["test.test/loss"]


def test_a_damaged_model_and_results_json_name_resume_which_finishes_the_run_again(run_copy: Path, capsys) -> None:
    """Whether the run completed is unknown, so no model is rebuilt from a checkpoint: resume runs its finish again."""
    shutil.rmtree(run_copy / "model")
    _flip(run_copy / "results.json")
    err = _one_line_error(["export", str(run_copy)], capsys)
    assert err.endswith(f"expected a completed run, got a damaged results.json. Finish the run first: "
                        f"`deepfeat resume {run_copy}`.\n")
    assert main(["resume", str(run_copy)]) == 0
    assert deepfeat.load(run_copy).results.status == "completed"
