"""A run folder loaded back (config, data info, learner, results), and the data a config names."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np
import torch
import yaml

from deepfeat.config import DATA_SPLIT_KEYS, Config, load_config
from deepfeat.data.datasets import DATASETS, folder_spec, load_dataset
from deepfeat.data.in_memory import memory_spec
from deepfeat.data.info import DataInfo
from deepfeat.data.splits import DataBundle, TensorSplit
from deepfeat.engine.callbacks import best_weights
from deepfeat.engine.checkpoint import load_checkpoint, verify_checksum, write_verified
from deepfeat.engine.device import Precision, resolve_device, resolve_precision
from deepfeat.engine.fit_batches import FitBatches
from deepfeat.engine.inference import collect
from deepfeat.errors import CheckpointError, ConfigError, DataError, DeepfeatError, UnknownNameError
from deepfeat.layout import FAILED_MODEL_DIR, RunPaths
from deepfeat.learners.base import Learner
from deepfeat.learners.build import build_learner
from deepfeat.registry import accepted_params, did_you_mean
from deepfeat.run.encoder_needs import with_encoder_needs
from deepfeat.run.model_io import export_model, load_model, rebuild_hint, set_aside, unregistered
from deepfeat.run.results import Results, read_results_file

log = logging.getLogger("deepfeat")


@dataclass
class Run:
    """A run folder with what was loaded from it: config, data info, the learner and its results."""

    dir: Path
    config: Config
    info: DataInfo
    learner: Learner
    results: Results = field(default_factory=Results)

    @property
    def paths(self) -> RunPaths:
        return RunPaths(self.dir)

    def inputs(self, x: Any) -> torch.Tensor:
        """Raw samples ``(N, *input_shape)`` (numpy or torch) as float32 (token ids: int64) on the learner's device."""
        xt = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        xt = xt.to(self.info.kind_spec.dtype)
        if xt.dim() == len(self.info.input_shape):  # one sample
            xt = xt.unsqueeze(0)
        if tuple(xt.shape[1:]) != tuple(self.info.input_shape):
            raise DataError(
                f"inputs for run {self.dir.name}: expected shape (N, {', '.join(map(str, self.info.input_shape))}), "
                f"got {tuple(xt.shape)}. Pass samples shaped like the training data."
            )
        return xt.to(next(self.learner.parameters()).device)

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor], x: Any, batch_size: int = 1024) -> np.ndarray:
        """``fn`` over raw samples ``x`` batch by batch, the run's own training normalization applied on the way in
        (the one inference loop, in float32 on the learner's device: see :func:`inference_precision`)."""
        xt = self.inputs(x)
        precision = inference_precision(self.learner, str(xt.device))
        out, _ = collect(self.learner, TensorSplit(xt), precision, lambda b: fn(self.info.normalize(b)), batch_size)
        check_finite_outputs(int((~np.isfinite(out)).sum()), out.size, self.dir.name)
        return out

    def embed(self, x: Any, batch_size: int = 1024) -> np.ndarray:
        """Features ``(N, feature_dim)`` of raw samples ``x`` (numpy or torch, as the dataset stores them).

        Unlike ``learner.embed``, which takes a batch already normalized with the run's statistics, this
        normalizes for you: the safe way to featurize new data.
        """
        return self.apply(self.learner.embed, x, batch_size)

    transform = embed  # the scikit-learn name

    def neighbors(self, x: Any, k: int = 10, batch_size: int = 1024) -> Any:
        """The ``k`` nearest items of the run's saved index (``deepfeat index``) to each raw sample of ``x``:
        a :class:`~deepfeat.run.retrieval.Neighbors` of ids, distances and labels, each ``(N, k)``."""
        from deepfeat.run.retrieval import run_neighbors  # it builds on this module

        return run_neighbors(self, x, k, batch_size=batch_size)

    @property
    def classes(self) -> list[str]:
        """The class names of the training data (its label indices as text where it named none)."""
        return list(self.info.class_names) or [str(k) for k in range(self.info.num_classes)]

    def require(self, capability: str) -> None:
        """Refuse, with the fix, what the run's learner does not declare it can do (``Learner.capabilities``)."""
        if not self.learner.can(capability):
            can = ", ".join(sorted(self.learner.capabilities)) or "none of classifies, reconstructs, scores, generates"
            raise ConfigError(
                f"run {self.dir.name}: expected a learner that {capability}, got learner "
                f"'{self.config.learner['name']}' (it {can}). Train a learner that {capability}: "
                "`deepfeat list learners` describes each."
            )

    def predict_proba(self, x: Any, batch_size: int = 1024) -> np.ndarray:
        """Class probabilities ``(N, num_classes)`` of raw samples ``x``, columns in the order of :attr:`classes`."""
        self.require("classifies")
        return self.apply(self.learner.predict_proba, x, batch_size)

    def predict(self, x: Any, batch_size: int = 1024) -> np.ndarray:
        """The most probable class name of each raw sample of ``x``: ``(N,)`` strings."""
        return np.asarray(self.classes, dtype=str)[self.predict_proba(x, batch_size).argmax(axis=1)]


def check_finite_outputs(nonfinite: int, total: int, run_name: str) -> None:
    """Refuse to hand out (or write) outputs of a run that hold NaN or inf: they would poison whatever uses them."""
    if nonfinite:
        raise DataError(f"outputs of run {run_name}: expected finite values, got {nonfinite} non-finite of {total} "
                        f"({nonfinite / total:.1%}); nothing was returned or written. The model or the input is at "
                        "fault: check the input for extreme values, or retrain the run with a lower learning rate.")


def load_data(cfg: Config, data: Any = None, test: Any = None) -> DataBundle:
    """The config's dataset, split and normalized as configured; ``data`` / ``test``: samples in memory for
    a config whose dataset is ``in_memory`` (see :func:`in_memory_config`)."""
    spec = {k: v for k, v in cfg.data.items() if k not in DATA_SPLIT_KEYS}
    split = {k: cfg.data[k] for k in DATA_SPLIT_KEYS if k in cfg.data}
    if data is not None:
        spec.update(memory_spec(data, test))
    return load_dataset(with_encoder_needs(spec, cfg.encoder), seed=cfg.seed, **split)


def is_in_memory(data: Any) -> bool:
    """Whether ``data`` is samples given in Python (an array, a tensor, a pair of them, a torch ``Dataset``, or
    anything else the ``in_memory`` source says what is wrong with) rather than a dataset name, path or spec."""
    return not isinstance(data, (str, os.PathLike, Mapping))


def in_memory_config(cfg: Config) -> Config:
    """``cfg`` with its dataset replaced by the ``in_memory`` source, keeping the split settings and the settings
    of the config's data that the source takes besides the samples (``kind``, ``class_names``)."""
    takes = set(accepted_params(DATASETS.get("in_memory")) or ()) - {"x", "y", "x_test", "y_test", "options"}
    kept = {k: v for k, v in cfg.data.items() if k in DATA_SPLIT_KEYS or k in takes}
    return dataclasses.replace(cfg, data={"name": "in_memory", **kept})


# Keys of a data spec that say which files it reads: new data names its own, the config's other settings stay.
_LOCATION = frozenset({"root", "path", "test_root", "test_path", "download"})


def with_data(cfg: Config, data: Any) -> tuple[Config, Any]:
    """``cfg`` reading ``data`` instead of its own dataset, and the samples to load with it (in memory) or None.

    ``data`` is samples in memory (the ``in_memory`` source), or a path, name or spec as :func:`data_spec` reads
    them, the config's own source reading a folder or file when it reads files; the config's split settings stay,
    and so do its reading settings (``size``, ``label_column``, ...) when the source is the same.
    """
    if data is None:
        return cfg, None
    if is_in_memory(data):
        return in_memory_config(cfg), data
    own = {k: v for k, v in cfg.data.items() if k not in DATA_SPLIT_KEYS}
    split = {k: cfg.data[k] for k in DATA_SPLIT_KEYS if k in cfg.data}
    spec = data_spec(data, own.get("name"))
    same = own.get("name") in DATASETS and DATASETS.canonical(own["name"]) == DATASETS.canonical(spec["name"])
    kept = {k: v for k, v in own.items() if same and k not in spec and k not in _LOCATION}
    return load_config({**cfg.to_dict(), "data": {**kept, **spec, **split}}), None


def split_python_encoder(config: Any) -> tuple[Any, Any]:
    """A config mapping whose ``encoder`` is a Python object (an ``nn.Module`` instance, class or factory), and
    that object apart: the config records ``{name: python, class: ...}``; ``(config, None)`` otherwise."""
    encoder = config.get("encoder") if isinstance(config, Mapping) else None
    if encoder is None or isinstance(encoder, (str, Mapping)):
        return config, None
    if not callable(encoder) and not isinstance(encoder, torch.nn.Module):
        raise ConfigError(f"encoder: expected a registered name, a {{name: ...}} mapping or an nn.Module (instance, "
                          f"class or factory), got {type(encoder).__name__}")
    source = type(encoder) if isinstance(encoder, torch.nn.Module) else encoder  # the class or factory
    label = f"{source.__module__}.{getattr(source, '__qualname__', type(source).__qualname__)}"
    return {**config, "encoder": {"name": "python", "class": label}}, encoder


def load(run_dir: str | Path, *, rebuild_results: bool = False, encoder: Any = None) -> Run:
    """Load a finished run: config, data info, and the exported model (in eval mode), each file verified.

    A failed run is refused (its model is not fit to use). ``rebuild_results``: a damaged ``results.json``
    is logged and replaced by empty results, for a caller about to write it again (``evaluate``). ``encoder``:
    for a run trained with a module passed as a Python object, that module again (an ``nn.Module`` class,
    factory or instance), which the trained weights are loaded into. A run naming an encoder, learner or
    dataset of your own needs the module that registers it imported first.
    """
    paths = _existing(run_dir)
    results = _read_results(paths, rebuild_results)
    refuse_failed(paths, results)
    cfg = read_run_config(paths)
    learner, info = load_model(paths.model, encoder)
    inference_precision(learner, "cpu")  # so a loaded run embeds exactly as the run that trained it
    return Run(paths.root, cfg, info, learner, results or Results())


def _read_results(paths: RunPaths, rebuild: bool) -> Results | None:
    try:
        return read_results_file(paths)
    except DataError:
        if not rebuild:
            raise
        log.warning(f"{paths.results} is damaged: it is written again from scratch (the fit summary it held is lost)")
        return None


def refuse_failed(paths: RunPaths, results: Results | None) -> None:
    """CheckpointError when ``results.json`` says the run failed: its model (set aside in ``model.failed/``) may be
    poisoned (non-finite features, diverged weights) and must not be used."""
    if results is None or results.status != "failed":
        return
    error = results.error or {}
    message = " ".join(str(error.get("message", "")).split())
    why = f"{error.get('type', 'an error')} {error.get('phase', '')}".strip() + (f": {message[:240]}" if message else "")
    raise CheckpointError(f"run {paths.root}: expected a completed run, got one that failed ({why}); its model is not "
                          f"used (set aside in {FAILED_MODEL_DIR}/). Fix the cause, then finish it from its last "
                          f"checkpoint (`deepfeat resume {paths.root}`) or retrain (`deepfeat fit -c {paths.config} "
                          "--out NEW_FOLDER`).")


def set_aside_failed_model(paths: RunPaths, results: Results) -> None:
    """Move a failed run's ``model/`` to ``model.failed/`` (logged): whatever failed after export (non-finite
    features, say) makes its model unfit to use, and a folder named ``model`` would be loaded by mistake."""
    if results.status == "failed" and set_aside(paths.model):
        log.warning(f"run {paths.root} failed: its model/ was set aside as {FAILED_MODEL_DIR}/")


def read_run_config(paths: RunPaths) -> Config:
    """The run's ``config.yaml``, checked against its sidecar and validated; one error naming the fix when damaged."""
    fix = _config_fix(paths)
    if not paths.config.is_file():
        raise ConfigError(f"run config at {paths.config}: expected a file, found none. {fix}")
    verify_checksum(paths.config, what="run config", fix=fix)
    try:
        return load_config(paths.config)
    except UnknownNameError as e:  # the user's own piece, its module not imported: the file is fine
        raise unregistered(e, paths.config) from None
    except (ConfigError, ValueError, TypeError) as e:  # a damaged file: bad YAML, bad bytes, unknown keys, wrong types
        raise ConfigError(f"run config {paths.config} is damaged ({str(e).rstrip('.')}). {fix}") from None


def _config_fix(paths: RunPaths) -> str:
    if _checkpoint(paths) is None:
        return "Restore it from a copy, or retrain."
    return (f"Restore it from the run's checkpoint: `deepfeat export {paths.root}` (a finished run) or "
            f"`deepfeat resume {paths.root}` (an interrupted one).")


def _checkpoint(paths: RunPaths) -> Path | None:
    """A checkpoint of the run (last.pt, else best.pt); each holds the run's config and data info."""
    return next((p for p in (paths.last, paths.best) if p.is_file()), None)


def restore_config(paths: RunPaths, cfg: Config | None = None) -> bool:
    """Rewrite a missing or damaged ``config.yaml`` (with its sidecar) from ``cfg``, by default the checkpoint's copy;
    logged. False when the file reads as it is; the read error when there is no checkpoint to restore from."""
    try:
        read_run_config(paths)
        return False
    except DeepfeatError:
        source = _checkpoint(paths)
        if cfg is None and source is None:
            raise
    cfg = cfg if cfg is not None else Config.from_dict(load_checkpoint(source)["config"])
    write_verified(paths.config, lambda tmp: Path(tmp).write_text(cfg.to_yaml()))
    log.warning(f"{paths.config} was missing or damaged: rewrote it from the checkpoint's copy of the config")
    return True


def _existing(run_dir: str | Path) -> RunPaths:
    paths = RunPaths(Path(run_dir))
    if not paths.root.is_dir():
        raise CheckpointError(f"run folder {paths.root}: not found. Pass the folder `deepfeat fit` printed.")
    return paths


def restore_model(run_dir: str | Path) -> Path | None:
    """Rebuild a completed run's ``model/`` (and a missing or damaged ``config.yaml``) from its checkpoint.

    The checkpoint is the one holding the weights the run exported: ``best.pt`` under
    ``training.restore_best`` (where one was written), else ``last.pt``; the learner is rebuilt from
    ``config.yaml`` and its end-of-fit hook runs again. Returns that checkpoint, or None when
    ``model/`` loads as it is. A failed run is refused: its weights are what failed.
    """
    paths = _existing(run_dir)
    restore_config(paths)
    try:
        results, found = read_results_file(paths), "no results.json"
    except DataError:  # whether the run completed is unknown: only a model that loads as it is will do
        results, found = None, "a damaged results.json"
    refuse_failed(paths, results)
    try:
        load_model(paths.model)
        return None
    except CheckpointError as e:
        damage = str(e).removesuffix(f" {rebuild_hint(paths.model)}").rstrip(".")
    if results is None or results.status != "completed":
        status = f"status {results.status}" if results else found
        raise CheckpointError(f"{damage}; it cannot be rebuilt from run {paths.root}: expected a completed run, got "
                              f"{status}. Finish the run first: `deepfeat resume {paths.root}`.")
    cfg = read_run_config(paths)
    retrain = f"Retrain: `deepfeat fit -c {paths.config} --out NEW_FOLDER`."
    if not paths.last.is_file():
        raise CheckpointError(f"{damage}; it cannot be rebuilt from run {paths.root}: expected the checkpoint "
                              f"{paths.last}, found none. {retrain}")
    source, weights, state = _exported_weights(cfg, paths)
    if weights is None:
        raise CheckpointError(f"{damage}; it cannot be rebuilt from run {paths.root}: expected the best epoch's weights "
                              f"in {paths.best}, found none or another epoch's. {retrain}")
    learner, info = _learner_at_fit_end(cfg, state, weights, source)
    export_model(learner, info, cfg.learner, cfg.encoder, paths.model)
    return source


def _exported_weights(cfg: Config, paths: RunPaths) -> tuple[Path, dict[str, Any] | None, dict[str, Any]]:
    """Which checkpoint holds the weights the run exported, those weights (None when they cannot be had), and
    ``last.pt``'s state: the best epoch's under ``restore_best`` when a best checkpoint was recorded (or, for
    checkpoints older than that record, written), else the last epoch's."""
    state = load_checkpoint(paths.last)
    recorded = state.get("best_checkpoint") if "best_checkpoint" in state else paths.best.is_file() or None
    if not cfg.training.restore_best or recorded is None:
        return paths.last, state["model"], state
    return paths.best, best_weights(state, paths.checkpoints), state


def _learner_at_fit_end(cfg: Config, state: dict[str, Any], weights: dict[str, Any], checkpoint: Path) -> tuple[Learner, DataInfo]:
    """The learner as training left it: the checkpoint's weights, then the end-of-fit hook (e.g. precise BN)."""
    info = DataInfo.from_dict(state["data_info"])
    learner = build_learner(cfg.learner, info, cfg.encoder, cfg.regularization)
    try:
        learner.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint {checkpoint}: expected weights of the architecture in config.yaml, got "
                              f"others ({str(e).splitlines()[0]}). Retrain, or restore the run's config.yaml.") from None
    precision = inference_precision(learner, cfg.training.device)
    learner.on_fit_end(_train_batches(cfg), precision.prepare_input, precision.autocast)
    return learner, info


def inference_precision(learner: Learner, device: str) -> Precision:
    """How a trained learner computes outside training: float32 on ``device`` (``training.device``: auto, cpu,
    cuda), in the memory format training used (channels_last for conv nets on CPUs). Moves ``learner`` there."""
    precision = resolve_precision("fp32", resolve_device(device), learner)
    precision.prepare_model(learner)
    return precision


def _train_batches(cfg: Config) -> FitBatches:
    """The training batches as the trainer's end-of-fit hook saw them; the data loads only if a learner asks."""
    return FitBatches(batch_size=cfg.training.batch_size, seed=cfg.seed, load=lambda: load_data(cfg).train)


def data_spec(data: Any, source: str | None = None) -> dict[str, Any]:
    """What ``data`` names, as a data spec: a ``{name: ...}`` mapping (or inline YAML of one), an existing folder
    or file, or a registered dataset name, tried in that order.

    A folder is read by ``source`` (a run's own source) when that reads its files, else by the folder source
    its files call for; a file by ``source`` when that takes a ``path``, else by its suffix (.npy/.npz/.csv/.parquet).
    """
    if isinstance(data, Mapping):
        return dict(data)
    text = str(data)
    if text.lstrip().startswith("{"):
        return _inline_spec(text)
    path = Path(text).expanduser()
    if path.is_dir():
        return folder_spec(path, source)
    if path.is_file():
        if source in DATASETS and "path" in inspect.signature(DATASETS.get(source)).parameters:
            return {"name": DATASETS.canonical(source), "path": text}
        if path.suffix.lower() in (".npy", ".npz", ".csv", ".parquet"):
            return {"name": "arrays", "path": text}
        raise ConfigError(f"data file {path}: expected a .npy, .npz, .csv or .parquet file, got suffix {path.suffix!r}. "
                          f"Name the source that reads it: \"{{name: SOURCE, path: {text}}}\" (`deepfeat list datasets`).")
    if text in DATASETS:
        return {"name": text}
    names = DATASETS.names()
    raise ConfigError(f"data '{text}': expected an existing file or folder or a registered dataset name, got neither "
                      f"(no file or folder at {path.absolute()}; datasets: {', '.join(names)}). Check the path, or "
                      f"give a spec: \"{{name: image_folder, root: PATH}}\".{did_you_mean(text, names)}")


def _inline_spec(text: str) -> dict[str, Any]:
    """``"{name: image_folder, root: imgs}"`` -> its mapping; a ConfigError for anything else."""
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"data spec {text!r}: expected a YAML mapping such as {{name: image_folder, root: imgs}}, "
                          f"got text YAML cannot read ({str(e).splitlines()[0]}). Quote it as one argument.") from None
    if not isinstance(spec, dict) or "name" not in spec:
        raise ConfigError(f"data spec {text!r}: expected a YAML mapping with a name, such as {{name: image_folder, "
                          f"root: imgs}}, got {spec!r}.")
    return spec


TEXT_FILES = "text_csv"  # reads a file of new texts (.csv / .jsonl) for a text run whose own source reads no files

# Keys of a run's data spec never reused for new data: which samples it read (not how), and where their labels were
# (new data is mostly unlabelled; its sources read a column named "label" by themselves).
_NOT_REUSED = frozenset({"root", "path", "test_root", "limit", "test_limit", "download", "label_column", "y_key"})


def model_data_spec(cfg: Config, info: DataInfo, data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The spec that reads new ``data`` as the run of ``cfg`` (trained on ``info``) read its own, and what it took
    from the run.

    Read by the run's own source, new samples get the run's reading settings (image size and grayscale,
    columns, ...) unless ``data`` sets them; a file of texts for a text run whose source reads no files (SMS
    Spam, a text folder) is read by ``text_csv``. A text source always gets the model's tokenizer (vocabulary
    included), so new texts get the ids they had in training, and a source taking the arguments of
    ``info.reader`` (audio: sample rate, duration) always gets those of training.
    """
    own = {k: v for k, v in cfg.data.items() if k not in DATA_SPLIT_KEYS}
    reads_files = own.get("name") in DATASETS and "path" in inspect.signature(DATASETS.get(own["name"])).parameters
    spec = data_spec(data, own.get("name") if reads_files or info.tokenizer is None else TEXT_FILES)
    factory = DATASETS.get(spec["name"], "data")
    same = own.get("name") in DATASETS and DATASETS.get(own["name"]) is factory
    reused = {k: v for k, v in own.items() if same and k not in spec and k != "name" and k not in _NOT_REUSED}
    takes = inspect.signature(factory).parameters
    if info.tokenizer is not None and "tokenizer" in takes:
        reused["tokenizer"] = info.tokenizer
    reused.update({k: v for k, v in (info.reader or {}).items() if k in takes})
    return {**spec, **reused}, reused


def resolved_data(spec: dict[str, Any], info: DataInfo) -> dict[str, Any]:
    """The data ``spec`` with the settings its source resolved from the files (``info.reader``, e.g. an image
    folder's ``grayscale: null`` made true or false), for the run's config to record."""
    takes = inspect.signature(DATASETS.get(spec["name"])).parameters if spec.get("name") in DATASETS else {}
    return {**spec, **{k: v for k, v in (info.reader or {}).items() if k in takes}}
