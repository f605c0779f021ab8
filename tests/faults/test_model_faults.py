"""Exported-model faults: model/ damaged (empty, truncated, bad header, changed), missing, or written by an
older deepfeat without checksums; `deepfeat export RUN` rebuilds it from the checkpoint."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import deepfeat
from deepfeat.cli import main
from deepfeat.errors import CheckpointError
from deepfeat.run.model_io import load_model


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "header":  # safetensors starts with the header's length (8 bytes, little endian): make it absurd
        path.write_bytes(b"\xff" * 8 + data[8:])
    elif how == "flipped":  # one bit in the middle: the file still parses, only the checksum tells
        path.write_bytes(data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 1]) + data[len(data) // 2 + 1:])


def _weights(run: Path) -> dict[str, torch.Tensor]:
    # Copies: safetensors maps the file, and reading a mapped tensor after the file was cut is a bus error.
    return {k: v.clone() for k, v in load_file(str(run / "model" / "model.safetensors")).items()}


def _fix(run: Path) -> str:
    return f"Rebuild it from the run's checkpoint: `deepfeat export {run}`."


def test_export_writes_checksums_that_sha256sum_reads(finished_run: Path) -> None:
    model = finished_run / "model"
    assert sorted(p.name for p in model.iterdir()) == ["model.json", "model.json.sha256", "model.safetensors",
                                                       "model.safetensors.sha256"]
    for name in ("model.json", "model.safetensors"):
        digest = hashlib.sha256((model / name).read_bytes()).hexdigest()
        assert (model / f"{name}.sha256").read_text() == f"{digest}  {name}\n"


# (file, damage, with .sha256 sidecars). Without sidecars (folders from older versions) a flipped bit may load.
DAMAGE = [(name, how, True) for name in ("model.safetensors", "model.json") for how in ("empty", "truncated", "flipped")] + \
    [("model.safetensors", "header", True)] + \
    [(name, how, False) for name in ("model.safetensors", "model.json") for how in ("empty", "truncated")] + \
    [("model.safetensors", "header", False)]


@pytest.mark.parametrize("name,how,sidecars", DAMAGE, ids=[f"{n}-{h}-{'sha256' if s else 'old'}" for n, h, s in DAMAGE])
def test_damaged_model_file_is_one_error_naming_it_and_the_fix(run_copy: Path, name: str, how: str,
                                                               sidecars: bool, capsys) -> None:
    path = run_copy / "model" / name
    if not sidecars:  # a model folder exported before checksums existed
        for sidecar in (run_copy / "model").glob("*.sha256"):
            sidecar.unlink()
    _damage(path, how)
    with pytest.raises(CheckpointError) as err:
        deepfeat.load(run_copy)
    message = str(err.value)
    assert message.startswith(f"exported model file {path}") and message.endswith(_fix(run_copy)), message
    if how == "empty":
        assert "is empty (0 bytes)" in message
    elif sidecars:
        assert "failed its checksum" in message
    else:
        assert ("expected JSON, got a parse error" if name == "model.json" else "cannot be read") in message
    assert main(["embed", str(run_copy), "--data", "digits", "--out", str(run_copy / "z.npy")]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not (run_copy / "z.npy").exists()


def test_an_old_model_folder_without_checksums_still_loads(run_copy: Path) -> None:
    for sidecar in (run_copy / "model").glob("*.sha256"):
        sidecar.unlink()
    learner, info = load_model(run_copy / "model")
    assert tuple(info.input_shape) == (1, 8, 8) and learner.feature_dim == 16


@pytest.mark.parametrize("damage", ["missing", "truncated", "empty json"])
def test_export_rebuilds_a_damaged_model_from_the_checkpoint(run_copy: Path, damage: str, capsys) -> None:
    before = _weights(run_copy)
    if damage == "missing":
        shutil.rmtree(run_copy / "model")
    elif damage == "truncated":
        _damage(run_copy / "model" / "model.safetensors", "truncated")
    else:
        _damage(run_copy / "model" / "model.json", "empty")
    assert main(["export", str(run_copy)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"rebuilt {run_copy / 'model'} from {run_copy / 'checkpoints' / 'best.pt'}\n")
    after = _weights(run_copy)
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    load_model(run_copy / "model")  # checksums and all
    assert main(["export", str(run_copy)]) == 0 and "rebuilt" not in capsys.readouterr().out  # nothing to rebuild now


def test_export_rebuilds_from_last_pt_when_the_run_kept_its_last_weights(tmp_path: Path, tiny) -> None:
    run = deepfeat.fit(tiny, out=tmp_path / "run", overrides=["training.restore_best=false", "optimizer.lr=0.05"]).dir
    before = _weights(run)
    shutil.rmtree(run / "model")
    assert deepfeat.run.runs.restore_model(run) == run / "checkpoints" / "last.pt"
    after = _weights(run)
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_export_without_model_or_checkpoint_says_retrain_never_export(run_copy: Path, capsys) -> None:
    shutil.rmtree(run_copy / "model")
    shutil.rmtree(run_copy / "checkpoints")
    assert main(["export", str(run_copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "deepfeat export" not in err
    assert err.startswith(f"error: exported model at {run_copy / 'model'}: expected model.json and model.safetensors, "
                          "found no folder; it cannot be rebuilt from run")
    assert err.endswith(f"found none. Retrain: `deepfeat fit -c {run_copy / 'config.yaml'} --out NEW_FOLDER`.\n")
    assert not (run_copy / "model").exists()


def test_export_of_an_unfinished_run_says_resume(run_copy: Path, capsys) -> None:
    shutil.rmtree(run_copy / "model")
    results = json.loads((run_copy / "results.json").read_text())
    (run_copy / "results.json").write_text(json.dumps({**results, "status": "interrupted"}))
    (run_copy / "results.json.sha256").unlink()  # as a run interrupted before sidecars were written
    assert main(["export", str(run_copy)]) == 2
    err = capsys.readouterr().err
    assert "deepfeat export" not in err
    assert err.endswith(f"expected a completed run, got status interrupted. Finish the run first: "
                        f"`deepfeat resume {run_copy}`.\n")


def test_a_standalone_model_folder_names_its_own_fix(run_copy: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(run_copy / "model", tmp_path / "shared-model"))
    _damage(folder / "model.json", "truncated")
    with pytest.raises(CheckpointError) as err:
        load_model(folder)
    assert str(err.value).endswith(f"Copy it again, or export it again from its run: `deepfeat export RUN --out {folder}`.")
