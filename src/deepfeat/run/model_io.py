"""Exported models: safetensors weights plus a JSON architecture config, no pickled code.

``model/model.json`` names the learner and encoder through their registries and stores the data
info, so :func:`load_model` rebuilds the network in a fresh process without the training script.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from deepfeat.config import MOVED_TO_EVALUATION
from deepfeat.data.info import DataInfo
from deepfeat.engine.checkpoint import atomic_write
from deepfeat.errors import CheckpointError, ConfigError
from deepfeat.learners.base import Learner
from deepfeat.learners.build import build_learner
from deepfeat.nn.backbones import SOURCES, load_into, read_weights

FORMAT = "deepfeat-model/1"


def export_model(learner: Learner, info: DataInfo, learner_spec: Any, encoder_spec: Any, directory: Path) -> Path:
    """Write ``model.safetensors`` and ``model.json`` into ``directory``; returns the directory."""
    directory = Path(directory)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in learner.state_dict().items()}
    atomic_write(directory / "model.safetensors", lambda tmp: save_file(state, tmp))
    meta = {"format": FORMAT, "learner": learner_spec, "encoder": encoder_spec, "data": info.to_dict(),
            "feature_dim": learner.feature_dim}
    atomic_write(directory / "model.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
    return directory


def load_model(directory: Path) -> tuple[Learner, DataInfo]:
    """Rebuild an exported learner (in eval mode) and its data info from ``directory``."""
    directory = Path(directory)
    meta_path, weights = directory / "model.json", directory / "model.safetensors"
    if not meta_path.is_file() or not weights.is_file():
        raise CheckpointError(f"exported model at {directory}: expected model.json and model.safetensors, found "
                              f"{sorted(p.name for p in directory.glob('*')) if directory.is_dir() else 'no folder'}. "
                              "Run `deepfeat export RUN` first.")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"exported model at {meta_path}: expected format {FORMAT}, got {meta.get('format')!r}")
    info = DataInfo.from_dict(meta["data"])
    learner = build_learner(_current_spec(meta["learner"]), info, meta["encoder"])
    try:
        learner.load_state_dict(load_file(str(weights)))
    except RuntimeError as e:
        raise CheckpointError(f"exported model at {directory}: weights do not match the architecture ({e})") from None
    return learner.eval(), info


def _current_spec(spec: Any) -> Any:
    """A learner spec without the evaluation settings learners once took (model folders written before they
    moved to ``evaluation.settings``), so old models load."""
    if not isinstance(spec, dict):
        return spec
    return {k: v for k, v in spec.items() if k not in MOVED_TO_EVALUATION}


class _Embedder(torch.nn.Module):
    """What ONNX export traces: raw input -> normalized -> features."""

    def __init__(self, learner: Learner, info: DataInfo) -> None:
        super().__init__()
        self.learner, self.info = learner, info

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.learner.embed(self.info.normalize(x))


def export_onnx(learner: Learner, info: DataInfo, path: Path) -> Path:
    """Export ``raw input (B, *input_shape) -> features (B, feature_dim)`` as ONNX (input normalization included)."""
    try:
        import onnx  # noqa: F401
    except ImportError as e:
        raise CheckpointError("ONNX export needs the 'onnx' and 'onnxscript' packages: pip install 'deepfeat[export]'") from e
    model = _Embedder(learner.float().cpu().eval(), info)
    example = torch.zeros(2, *info.input_shape)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (example,), str(path), input_names=["input"], output_names=["features"],
                      dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}}, dynamo=True)
    return path


@SOURCES.register("folder")
def _run_folder(source: str, pretrained: bool, weights: str | None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A deepfeat run folder or exported model folder as a backbone: its learner's encoder."""
    folder = Path(source).expanduser()
    folder = folder / "model" if (folder / "model" / "model.json").is_file() else folder
    if not (folder / "model.json").is_file():
        raise ConfigError(f"encoder source at encoder.source: expected timm:<name>, torchvision:<name>, a run folder or an "
                          f"exported model folder, got {source!r} (no model.json there). Pass the folder `deepfeat fit` printed.")
    if pretrained and weights is None:
        learner, info = load_model(folder)
    else:
        meta = json.loads((folder / "model.json").read_text())
        info = DataInfo.from_dict(meta["data"])
        learner = build_learner(_current_spec(meta["learner"]), info, meta["encoder"])
        if weights is not None and pretrained:
            load_into(learner, read_weights(weights, "encoder.weights"), None, "encoder.weights")
    return learner.encoder.float(), {"channels": info.input_shape[0], "size": info.input_shape[1:], "mean": info.mean,
                                     "std": info.std, "shape": tuple(info.input_shape), "kind": info.kind}
