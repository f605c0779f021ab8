"""Checkpoint/resume exactness and exported-model reload in a fresh process."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import deepfeat
from deepfeat.engine.callbacks import Callback
from deepfeat.engine.checkpoint import load_checkpoint, save_checkpoint
from deepfeat.errors import CheckpointError

CFG = {
    "data": {"name": "digits"},
    "encoder": {"name": "mlp", "hidden": [64, 32], "dropout": 0.2, "norm": "batch"},
    "optimizer": {"name": "sgd", "lr": 0.05},
    "schedule": {"name": "cosine", "warmup_epochs": 1},
    "training": {"epochs": 4, "batch_size": 128, "progress": "none"},
    "evaluation": {"embedding_plots": []},
    "logging": {"plots": False, "report": False},
}


class _Crash(Callback):
    """Simulates a crash right after the checkpoint of epoch ``at`` was written."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_epoch_end(self, trainer, epoch, logs) -> None:  # type: ignore[no-untyped-def]
        if epoch + 1 == self.at:
            raise RuntimeError("simulated crash")


def _weights(learner: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in learner.state_dict().items()}


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path) -> None:
    full = deepfeat.fit(CFG, out=tmp_path / "full", overrides=["training.restore_best=false"])
    with pytest.raises(RuntimeError, match="simulated crash"):
        deepfeat.fit(CFG, out=tmp_path / "cut", overrides=["training.restore_best=false"], callbacks=[_Crash(2)])
    assert load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")["epoch"] == 2
    resumed = deepfeat.resume(tmp_path / "cut")
    a, b = _weights(full.learner), _weights(resumed.learner)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
    rows_full = (tmp_path / "full" / "metrics.csv").read_text().splitlines()
    rows_res = (tmp_path / "cut" / "metrics.csv").read_text().splitlines()
    assert len(rows_full) == len(rows_res) == 5  # header + 4 epochs, none duplicated


def test_checkpoint_is_atomic_and_loads_weights_only(tmp_path) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"x": torch.ones(3), "meta": {"epoch": 1}})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "c.pt.sha256"]  # no temporary file left behind
    assert load_checkpoint(path)["meta"]["epoch"] == 1
    path.write_bytes(b"truncated")
    with pytest.raises(CheckpointError, match="failed its checksum"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="found none"):
        load_checkpoint(tmp_path / "missing.pt")


def test_exported_model_reloads_in_a_fresh_process_with_identical_outputs(tmp_path) -> None:
    run = deepfeat.fit(CFG, out=tmp_path / "run", overrides=["training.epochs=1"])
    x = torch.randn(16, 1, 8, 8)
    np.save(tmp_path / "x.npy", x.numpy())
    with torch.no_grad():
        expected = run.learner.cpu().eval().embed(x).numpy()
    code = (
        "import sys, numpy as np, torch\n"
        "from deepfeat.run.model_io import load_model\n"
        "learner, info = load_model(sys.argv[1])\n"
        "x = torch.from_numpy(np.load(sys.argv[2]))\n"
        "with torch.no_grad(): np.save(sys.argv[3], learner.embed(x).numpy())\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "run" / "model"), str(tmp_path / "x.npy"),
                    str(tmp_path / "z.npy")], check=True, timeout=120)
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), expected)
    assert not any(p.suffix in (".pt", ".pkl") for p in (tmp_path / "run" / "model").iterdir())
