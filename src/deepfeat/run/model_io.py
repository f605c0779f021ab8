"""Exported models: safetensors weights plus a JSON architecture config, no pickled code.

``model/model.json`` names the learner and encoder through their registries and stores the data
info, so :func:`load_model` rebuilds the network in a fresh process without the training script.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from deepfeat.migrations import MOVED_TO_EVALUATION
from deepfeat.data.info import DataInfo
from deepfeat.engine.checkpoint import verify_checksum, write_verified
from deepfeat.errors import CheckpointError, ConfigError, UnknownNameError
from deepfeat.extras import load
from deepfeat.layout import CHECKPOINTS_DIR, FAILED_MODEL_DIR, MODEL_DIR
from deepfeat.learners.base import Learner
from deepfeat.learners.build import build_learner
from deepfeat.nn.backbones import SOURCES, load_into, read_weights
from deepfeat.nn.encoder import PYTHON
from deepfeat.registry import IMPORT_FIX

FORMAT = "deepfeat-model/1"
WEIGHTS_FILE, META_FILE = "model.safetensors", "model.json"
# What model.json holds: each key load_model reads, none other.
_META_KEYS = ("format", "learner", "encoder", "data", "feature_dim")


def export_model(learner: Learner, info: DataInfo, learner_spec: Any, encoder_spec: Any, directory: Path) -> Path:
    """Write ``model.safetensors`` and ``model.json``, each with a ``.sha256`` sidecar, into ``directory``."""
    directory = Path(directory)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in learner.state_dict().items()}
    write_verified(directory / WEIGHTS_FILE, lambda tmp: save_file(state, tmp))
    meta = {"format": FORMAT, "learner": learner_spec, "encoder": encoder_spec, "data": info.to_dict(),
            "feature_dim": learner.feature_dim}
    write_verified(directory / META_FILE, lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
    return directory


def load_model(directory: Path, encoder: Any = None) -> tuple[Learner, DataInfo]:
    """Rebuild an exported learner (in eval mode) and its data info from ``directory``.

    ``encoder``: the module (an ``nn.Module`` class, factory or instance) of a model trained with one passed as a
    Python object, which its files name but cannot rebuild. CheckpointError, naming the file and how to rebuild it,
    when a file is missing, empty, truncated, changed since it was written (``.sha256`` sidecars) or does not fit
    the architecture.
    """
    directory = Path(directory)
    meta_path, weights = directory / META_FILE, directory / WEIGHTS_FILE
    fix = rebuild_hint(directory)
    if not meta_path.is_file() or not weights.is_file():
        raise CheckpointError(f"exported model at {directory}: expected {META_FILE} and {WEIGHTS_FILE}, found "
                              f"{sorted(p.name for p in directory.glob('*')) if directory.is_dir() else 'no folder'}. {fix}")
    learner, info = _build(meta_path, _read_meta(meta_path, fix), fix, encoder)
    try:
        learner.load_state_dict(_read_weights(weights, fix))
    except RuntimeError as e:
        if encoder is not None:
            raise _other_module(meta_path, encoder, "its weights do not fit it") from None
        raise CheckpointError(f"exported model at {directory}: weights do not match the architecture ({e})") from None
    return learner.eval(), info


def _build(path: Path, meta: dict[str, Any], fix: str, encoder: Any = None) -> tuple[Learner, DataInfo]:
    """The learner ``model.json`` describes, untrained (with ``encoder``, see :func:`load_model`); CheckpointError
    naming the file when its data info is damaged or the learner does not have the feature width the file records.
    (A spec that names what this process cannot build, such as an encoder passed as a Python object, stays the
    ConfigError saying so.)"""
    try:
        info = DataInfo.from_dict(meta["data"])
    except ConfigError as e:
        raise CheckpointError(f"exported model file {path} is damaged: {e}. {fix}") from None
    try:
        learner = build_learner(_current_spec(meta["learner"]), info, encoder_to_build(meta["encoder"], encoder, path))
    except UnknownNameError as e:
        raise unregistered(e, path) from None
    if meta.get("feature_dim", learner.feature_dim) != learner.feature_dim:
        if encoder is not None:
            raise _other_module(path, encoder, f"it gives {learner.feature_dim} features, not {meta['feature_dim']!r}")
        raise CheckpointError(f"exported model file {path} is damaged: expected feature_dim {learner.feature_dim} "
                              f"(what its architecture gives), got {meta['feature_dim']!r}. {fix}")
    return learner, info


def encoder_to_build(saved: Any, given: Any, path: Path) -> Any:
    """What builds the encoder: the saved spec, or ``given``, the module a model trained with a Python object takes
    again (a model whose encoder is rebuilt by name does not: its weights were trained for that one)."""
    if given is None:
        return saved
    if not callable(given):  # an nn.Module instance is callable too
        raise ConfigError(f"encoder= for {path}: expected an nn.Module (instance, class or factory), got "
                          f"{type(given).__name__} {given!r}. Pass the module the run was trained with.")
    if not (isinstance(saved, dict) and saved.get("name") == PYTHON):
        name = saved.get("name") if isinstance(saved, dict) else saved
        raise ConfigError(f"encoder= for {path}: expected a model trained with a module passed as a Python object, got "
                          f"one whose encoder '{name}' is rebuilt by name. Leave encoder= out; if '{name}' is your own, "
                          f"{IMPORT_FIX}.")
    return given


def _other_module(path: Path, given: Any, why: str) -> ConfigError:
    """The module passed again is not the one trained (another class, or other arguments): said as such, not as damage."""
    source = given if not isinstance(given, torch.nn.Module) else type(given)
    return ConfigError(f"encoder= for {path}: expected the module the run was trained with, got "
                       f"{getattr(source, '__qualname__', source)!r}, which is another ({why}). Pass the class, factory "
                       "or instance, with the same arguments, that the run was trained with.")


def unregistered(error: UnknownNameError, where: Path) -> ConfigError:
    """A saved run's or model's name that this process has not registered: the user's own piece (or a plugin's)
    whose module was not imported, said so instead of suggesting a look-alike or calling the file damaged."""
    return ConfigError(f"{error.kind} '{error.name}' at {where}: expected it registered, as it was when the run was "
                       f"trained, got no {error.kind} of that name in this process. It is your own or a plugin's: "
                       f"{IMPORT_FIX}.")


def rebuild_hint(directory: Path) -> str:
    """How to get a good ``directory`` back: from the run's checkpoint for a run's ``model/``, else from its run."""
    run = directory.parent
    if directory.name == MODEL_DIR and (run / CHECKPOINTS_DIR).is_dir():
        return f"Rebuild it from the run's checkpoint: `deepfeat export {run}`."
    return f"Copy it again, or export it again from its run: `deepfeat export RUN --out {directory}`."


def set_aside(directory: Path) -> Path | None:
    """Rename a failed run's ``model/`` to ``model.failed/`` (replacing an older one) so nothing loads it by mistake;
    the weights stay there to inspect. Returns the new folder, None when there was no model."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    target = directory.with_name(FAILED_MODEL_DIR)
    shutil.rmtree(target, ignore_errors=True)
    directory.rename(target)
    return target


def _check_file(path: Path, fix: str) -> None:
    """Refuse an empty file or one that changed since export (its sidecar; folders from before sidecars pass)."""
    if path.stat().st_size == 0:
        raise CheckpointError(f"exported model file {path} is empty (0 bytes): it was cut off while being written. {fix}")
    verify_checksum(path, what="exported model file", fix=fix)


def _read_meta(path: Path, fix: str) -> dict[str, Any]:
    """The parsed ``model.json``, checked: format and the keys :func:`load_model` reads."""
    _check_file(path, fix)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"exported model file {path}: expected JSON, got a parse error ({e}); the file is "
                              f"truncated or damaged. {fix}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"exported model at {path}: expected format {FORMAT}, got {found!r}. {fix}")
    missing = [k for k in ("learner", "encoder", "data") if k not in meta]
    if missing:
        raise CheckpointError(f"exported model at {path}: expected the keys learner, encoder and data, got no "
                              f"{', '.join(missing)}. {fix}")
    unknown = sorted(str(k) for k in meta if k not in _META_KEYS)
    if unknown:
        raise CheckpointError(f"exported model at {path}: expected keys among {', '.join(_META_KEYS)}, got unknown "
                              f"key {unknown[0]!r}; the file is damaged. {fix}")
    return meta


def _read_weights(path: Path, fix: str) -> dict[str, torch.Tensor]:
    _check_file(path, fix)
    try:
        return load_file(str(path))
    except Exception as e:  # noqa: BLE001 - safetensors raises SafetensorError, OSError, ...; each becomes one message
        first = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise CheckpointError(f"exported model file {path} cannot be read ({first}): it is truncated or damaged "
                              f"({path.stat().st_size} bytes). {fix}") from None


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
    load("onnx", "export", "ONNX export")
    model = _Embedder(learner.float().cpu().eval(), info)
    example = torch.zeros(2, *info.input_shape)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (example,), str(path), input_names=["input"], output_names=["features"],
                      dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}}, dynamo=True)
    return path


def _model_folder(source: str) -> Path:
    """The exported model folder of a run folder, or ``source`` itself."""
    folder = Path(source).expanduser()
    return folder / MODEL_DIR if (folder / MODEL_DIR / META_FILE).is_file() else folder


def _run_folder_needs(source: str) -> dict[str, Any]:
    """What a run's network needs of new data: the tokenizer of a text run, vocabulary included (``{}`` otherwise,
    and for a folder without ``model.json``, which building the encoder then reports)."""
    folder = _model_folder(source)
    if not (folder / META_FILE).is_file():
        return {}
    fix = rebuild_hint(folder)
    try:
        tokenizer = DataInfo.from_dict(_read_meta(folder / META_FILE, fix)["data"]).tokenizer
    except ConfigError as e:
        raise CheckpointError(f"exported model file {folder / META_FILE} is damaged: {e}. {fix}") from None
    return {"tokenizer": tokenizer} if tokenizer is not None else {}


@SOURCES.register("folder", meta={"data_needs": _run_folder_needs})
def _run_folder(source: str, pretrained: bool, weights: str | None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A deepfeat run folder or exported model folder as a backbone: its learner's encoder."""
    folder = _model_folder(source)
    if not (folder / META_FILE).is_file():
        raise ConfigError(f"encoder source at encoder.source: expected timm:<name>, torchvision:<name>, a run folder or an "
                          f"exported model folder, got {source!r} (no model.json there). Pass the folder `deepfeat fit` printed.")
    if pretrained and weights is None:
        learner, info = load_model(folder)
    else:
        fix = rebuild_hint(folder)
        learner, info = _build(folder / META_FILE, _read_meta(folder / META_FILE, fix), fix)
        if weights is not None and pretrained:
            load_into(learner, read_weights(weights, "encoder.weights"), None, "encoder.weights")
    kind = info.kind_spec
    return learner.encoder.float(), {"channels": info.input_shape[0], "size": info.input_shape[1:], "mean": info.mean,
                                     "std": info.std, "shape": tuple(info.input_shape), "fixed_shape": not kind.resizable,
                                     "example": kind.example(info.input_shape)}
