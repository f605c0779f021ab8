"""TensorBoard logging writes event files with the epoch scalars."""

from __future__ import annotations

import pytest

import deepfeat


def test_tensorboard_writes_scalars(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    deepfeat.fit({"encoder": {"name": "mlp", "hidden": [16]}, "training": {"epochs": 2, "progress": "none"},
                  "logging": {"tensorboard": True, "plots": False, "report": False}}, out=tmp_path / "run")
    acc = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    acc.Reload()
    assert {"train/loss", "val/acc", "lr"} <= set(acc.Tags()["scalars"])
    assert len(acc.Scalars("train/loss")) == 2
    assert "inputs" in acc.Tags()["images"]
    assert (tmp_path / "run" / "tensorboard" / "projector_config.pbtxt").exists()
