"""The typed config schema: YAML load/dump, ``--set`` overrides and strict validation.

One YAML file describes a run. Fixed sections (``training``, ``evaluation``, ``logging``) are
dataclasses; pluggable sections (``data``, ``encoder``, ``learner``, ``optimizer``, ``schedule``,
``regularization``) have the one shape ``{name: <registered name>, <its arguments>}`` and are
checked against the registered factory's signature. Everything is validated before any work
starts: unknown keys and names fail with the dotted path and the close match.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml

from deepfeat.data.datasets import DATASETS
from deepfeat.engine.diagnostics import DiagnosticsConfig
from deepfeat.engine.trainer import TrainingConfig
from deepfeat.errors import ConfigError
from deepfeat.eval.evaluations import EVALUATIONS, evaluation_spec
from deepfeat.eval.protocol import resolve_protocols
from deepfeat.learners.build import LEARNERS
from deepfeat.nn.encoder import ENCODERS
from deepfeat.nn.regularizers import REGULARIZERS
from deepfeat.optim.optimizers import OPTIMIZERS, check_hyperparameters
from deepfeat.optim.schedulers import SCHEDULERS
from deepfeat.registry import Registry, check_kwargs, did_you_mean
from deepfeat.typecheck import coerce, hints
from deepfeat.yaml_file import read_yaml

log = logging.getLogger("deepfeat")

# Keys of the data section that configure splitting rather than the dataset source.
DATA_SPLIT_KEYS = {"val_fraction": float | None, "test_fraction": float, "normalize": bool,
                   "classes": list[int | str] | None, "normal_classes": list[int | str] | None, "score_heldout": bool,
                   "augment": Any}
# Keys a {name: ...} section takes besides its factory's arguments (the library reads them): key -> type.
SECTION_KEYS: dict[str, dict[str, Any]] = {"data": DATA_SPLIT_KEYS, "optimizer": {"layer_decay": float | None}}
# Data keys that were renamed: old -> new (the old name still loads, with a warning).
RENAMED_DATA_KEYS = {"train_classes": "normal_classes"}


@dataclass
class EvaluationConfig:
    """How learned features are evaluated after training (settings are recorded with results)."""

    max_samples: int = 10000
    embedding_plots: list[Literal["pca", "tsne", "umap"]] = field(default_factory=lambda: ["pca", "tsne"])
    # Evaluators run on the features (deepfeat.eval.protocol): linear, knn, cluster, fewshot, health, retrieval.
    protocol: list[str] = field(default_factory=lambda: ["linear", "knn", "retrieval"])
    # Settings of any evaluation by name: a feature protocol's ({knn: {k: [5, 20]}, fewshot: {draws: 10}}) or one a
    # learner's run declares ({low_label: {labels_per_class: [1, 5, 10]}, generative: {samples: 2000}}).
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        resolve_protocols(self.protocol)  # unknown names fail when the config loads, not after training
        for name, settings in self.settings.items():
            if not isinstance(settings, dict):
                raise ConfigError(f"evaluation.settings.{name}: expected a mapping of its settings, got {settings!r}")
            if name in EVALUATIONS:  # the run layer's evaluations register later; config check checks them all
                evaluation_spec(name).check_settings(settings, f"evaluation.settings.{name}")


@dataclass
class LoggingConfig:
    """What a run writes besides checkpoints and metrics."""

    plots: bool = True
    report: bool = True
    tensorboard: bool = False
    mlflow: bool = False  # log params, metrics, results and artifacts to MLflow (the tracking extra)
    tracking_uri: str | None = None  # MLflow store; default: sqlite:///<runs folder>/mlflow.db (local, offline)
    experiment: str | None = None  # MLflow experiment; default: the config's name (else <dataset>-<learner>)

    def __post_init__(self) -> None:
        for key in ("tracking_uri", "experiment"):
            if getattr(self, key) is not None and not self.mlflow:
                raise ConfigError(f"logging.{key}: expected logging.mlflow: true with it, got mlflow: false. "
                                  f"Set logging.mlflow=true to track this run in MLflow, or drop logging.{key}.")
            if getattr(self, key) == "":
                raise ConfigError(f"logging.{key}: expected a non-empty string, got ''. Drop it to use the default.")


@dataclass
class CompareConfig:
    """What ``deepfeat compare`` varies (``fit`` ignores it): a grid of dotted keys, named variants, seeds.

    Every combination of ``grid`` values (``{"optimizer.lr": [0.1, 0.01]}``) and ``variants`` (named
    sets of dotted overrides, ``{"l2": {"regularization": {"name": "l2"}}}``) runs once per seed.
    """

    grid: dict[str, list[Any]] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    seeds: int = 1

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ConfigError(f"compare.seeds: expected an integer >= 1, got {self.seeds}")
        for key, values in self.grid.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"compare.grid.{key}: expected a non-empty list of values, got {values!r}")
        for name, overrides in self.variants.items():
            if not isinstance(overrides, dict):
                raise ConfigError(f"compare.variants.{name}: expected a mapping of dotted keys to values, got {overrides!r}")


# The {name: ...} sections and the registry each names an entry of; each registry knows what the library passes its
# factories (Registry.takes, Registry.fills), so what remains is what a user may set.
SPECS: dict[str, Registry[Any]] = {"data": DATASETS, "encoder": ENCODERS, "learner": LEARNERS, "optimizer": OPTIMIZERS,
                                   "schedule": SCHEDULERS, "regularization": REGULARIZERS}


_SECTIONS: dict[str, type] = {"training": TrainingConfig, "evaluation": EvaluationConfig, "logging": LoggingConfig,
                             "diagnostics": DiagnosticsConfig, "compare": CompareConfig}


@dataclass
class Config:
    """A whole run. ``Config.from_dict`` validates; ``to_dict`` gives the resolved config."""

    data: dict[str, Any] = field(default_factory=lambda: {"name": "digits"})
    encoder: dict[str, Any] = field(default_factory=lambda: {"name": "mlp"})
    learner: dict[str, Any] = field(default_factory=lambda: {"name": "classifier"})
    optimizer: dict[str, Any] = field(default_factory=lambda: {"name": "adam", "lr": 1e-3})
    schedule: dict[str, Any] = field(default_factory=lambda: {"name": "constant"})
    regularization: dict[str, Any] = field(default_factory=lambda: {"name": "none"})
    training: TrainingConfig = field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    seed: int = 0
    name: str | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> "Config":
        """Validate a raw mapping (as loaded from YAML) into a Config; ConfigError on any problem."""
        raw = dict(raw or {})
        if not isinstance(raw, Mapping):
            raise ConfigError(f"config: expected a mapping of sections, got {type(raw).__name__}")
        _reject_unknown(raw, [f.name for f in dataclasses.fields(cls)], "")
        raw = _rename_data_keys(_move_probe_keys(_noise_makes_a_denoiser(_move_evaluation_settings(raw))))
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in raw:
                continue
            value = raw[f.name]
            if f.name in SPECS:
                kwargs[f.name] = validate_spec(f.name, value)
            elif f.name in _SECTIONS:
                value = _fold_linear_probe(value) if f.name == "evaluation" else value
                kwargs[f.name] = build_section(_SECTIONS[f.name], value, f.name)
            else:
                kwargs[f.name] = coerce(value, hints(cls)[f.name], f.name)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data (every default filled in)."""
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def validate_spec(section: str, value: Any) -> dict[str, Any]:
    """Check a ``{name, **kwargs}`` section against its registry; return it with the canonical name."""
    registry = SPECS[section]
    name, kwargs = registry.split_spec(value, section)
    keys = SECTION_KEYS.get(section, {})
    own = {key: coerce(kwargs.pop(key), typ, f"{section}.{key}") for key, typ in keys.items() if key in kwargs}
    checked = check_kwargs(registry.get(name), kwargs, section, skip=registry.skip(name),
                           extra=dict.fromkeys(registry.fills), also=list(keys))
    if section == "optimizer":
        check_hyperparameters(checked, section)  # fail before a run folder exists, not when training starts
    return {"name": name, **checked, **own}


# Evaluation settings that learners once took, and where they live now (evaluation.settings.<name>.<key>).
MOVED_TO_EVALUATION = {"low_label": ("low_label", None), "eval_samples": ("generative", "samples"),
                       "fid_classifier": ("generative", "classifier"),
                       "inception_weights": ("generative", "inception_weights")}


def _move_evaluation_settings(raw: dict[str, Any]) -> dict[str, Any]:
    """Move evaluation settings out of ``learner:`` into ``evaluation.settings``, so old configs and run folders load."""
    learner = raw.get("learner")
    if not isinstance(learner, Mapping) or not MOVED_TO_EVALUATION.keys() & learner.keys():
        return raw
    learner, evaluation = dict(learner), dict(raw.get("evaluation") or {})
    settings = {k: dict(v) for k, v in (evaluation.get("settings") or {}).items()}
    for key in MOVED_TO_EVALUATION.keys() & learner.keys():
        name, inner = MOVED_TO_EVALUATION[key]
        value = learner.pop(key)
        if value is None:
            continue
        settings[name] = {**settings.get(name, {}), **(dict(value) if inner is None else {inner: value})}
        where = f"evaluation.settings.{name}" + (f".{inner}" if inner else "")
        log.warning(f"learner.{key} is deprecated: write it as {where}")
    return {**raw, "learner": learner, "evaluation": {**evaluation, "settings": settings}}


def _noise_makes_a_denoiser(raw: dict[str, Any]) -> dict[str, Any]:
    """``learner: {name: autoencoder, noise: ...}`` -> ``{name: denoising, noise: ...}``: an autoencoder with noise is
    the registered denoising autoencoder (its own declarations), so such configs keep working."""
    learner = raw.get("learner")
    if not isinstance(learner, Mapping) or learner.get("noise") is None or not isinstance(learner.get("name"), str):
        return raw
    if learner["name"] not in LEARNERS or LEARNERS.canonical(learner["name"]) != "autoencoder":
        return raw
    log.warning("learner autoencoder with noise: resolved to learner denoising (the denoising autoencoder); "
                "write learner: {name: denoising, noise: ...}")
    return {**raw, "learner": {**learner, "name": "denoising"}}


# Evaluation keys that became settings of one evaluation: old key -> (evaluation, setting); None: all its settings.
MOVED_TO_SETTINGS = {"probe_C": ("linear_probe", "C"), "knn_k": ("knn", "k"), "knn_metric": ("knn", "metric"),
                     "protocol_settings": (None, None)}


def _move_probe_keys(raw: dict[str, Any]) -> dict[str, Any]:
    """``evaluation.probe_C`` / ``knn_k`` / ``knn_metric`` / ``protocol_settings`` -> ``evaluation.settings``, so old
    configs and run folders load; what ``settings`` gives itself wins, as it did."""
    evaluation = raw.get("evaluation")
    if not isinstance(evaluation, Mapping) or not MOVED_TO_SETTINGS.keys() & evaluation.keys():
        return raw
    evaluation = dict(evaluation)
    old = [key for key in MOVED_TO_SETTINGS if key in evaluation]
    moved: dict[str, dict[str, Any]] = {}
    for key in old:
        name, setting = MOVED_TO_SETTINGS[key]
        value = evaluation.pop(key)
        if name is None:  # protocol_settings: the former name of settings
            if not isinstance(value, Mapping):
                raise ConfigError(f"evaluation.{key}: expected a mapping of evaluations to their settings, got {value!r}. "
                                  "Write it as evaluation.settings.")
            for other, own in value.items():
                moved[other] = {**moved.get(other, {}), **own} if isinstance(own, Mapping) else own
        else:
            moved.setdefault(name, {})[setting] = value
    given = evaluation.get("settings") or {}
    if not isinstance(given, Mapping):
        raise ConfigError(f"evaluation.settings: expected a mapping of evaluations to their settings, got {given!r}")
    settings = dict(moved)
    for name, own in given.items():
        before = moved.get(name)
        settings[name] = {**before, **own} if isinstance(before, Mapping) and isinstance(own, Mapping) else own
    log.warning(f"evaluation.{', evaluation.'.join(old)}: deprecated, write evaluation.settings.<evaluation>.<setting> "
                "instead (probe_C: linear_probe.C, knn_k: knn.k, knn_metric: knn.metric)")
    return {**raw, "evaluation": {**evaluation, "settings": settings}}


def _rename_data_keys(raw: dict[str, Any]) -> dict[str, Any]:
    """``data.train_classes`` -> ``data.normal_classes`` (and any other renamed data key), so old configs and run folders load."""
    data = raw.get("data")
    if not isinstance(data, Mapping) or not RENAMED_DATA_KEYS.keys() & data.keys():
        return raw
    data = dict(data)
    for old in RENAMED_DATA_KEYS.keys() & data.keys():
        new = RENAMED_DATA_KEYS[old]
        if new in data:
            raise ConfigError(f"data.{old} and data.{new}: expected only data.{new} ({old} is its former name), got both")
        data[new] = data.pop(old)
        log.warning(f"data.{old} is deprecated: write it as data.{new}")
    return {**raw, "data": data}


def _fold_linear_probe(value: Any) -> Any:
    """Fold the removed ``evaluation.linear_probe`` flag into ``evaluation.protocol``, so old run folders load.

    ``true`` (in every resolved config written before) changes nothing; ``false`` drops the linear probe.
    """
    if not isinstance(value, Mapping) or "linear_probe" not in value:
        return value
    value = dict(value)
    flag = value.pop("linear_probe")
    if not isinstance(flag, bool):
        raise ConfigError(f"evaluation.linear_probe: expected true or false, got {flag!r}. It is replaced by "
                          "evaluation.protocol: list the evaluators to run, e.g. protocol: [knn]")
    if not flag:
        value["protocol"] = [n for n in resolve_protocols(value.get("protocol", EvaluationConfig().protocol))
                             if n != "linear_probe"]
        log.warning(f"evaluation.linear_probe: false is deprecated; write evaluation.protocol: {value['protocol']} instead")
    return value


def build_section(cls: type, value: Any, where: str) -> Any:
    """Build a dataclass section from a mapping, strictly (unknown keys and wrong types fail)."""
    if value is None:
        return cls()
    if not isinstance(value, Mapping):
        raise ConfigError(f"section '{where}': expected a mapping, got {type(value).__name__} {value!r}")
    names = [f.name for f in dataclasses.fields(cls)]
    _reject_unknown(value, names, where + ".")
    types_ = hints(cls)
    return cls(**{k: coerce(v, types_[k], f"{where}.{k}") for k, v in value.items()})


def _reject_unknown(raw: Mapping[str, Any], valid: list[str], prefix: str) -> None:
    for key in raw:
        if key not in valid:
            raise ConfigError(
                f"unknown key '{prefix}{key}': expected one of {', '.join(valid)}.{did_you_mean(str(key), valid)}"
            )


def apply_override(raw: dict[str, Any], assignment: str) -> None:
    """Apply ``"training.epochs=5"`` to a raw config dict; the value is parsed as YAML."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected key=value, e.g. --set training.epochs=5")
    path, _, text = assignment.partition("=")
    keys = path.strip().split(".")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {assignment!r}: the value is not valid YAML ({e})") from None
    node = raw
    for i, key in enumerate(keys[:-1]):
        child = node.get(key)
        if isinstance(child, str) and i == 0 and keys[0] in SPECS:
            child = {"name": child}  # allow `--set optimizer.lr=0.1` when the file says `optimizer: adam`
        if child is None:
            child = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {assignment!r}: '{'.'.join(keys[: i + 1])}' is {child!r}, not a section")
        node[key] = child
        node = child
    node[keys[-1]] = value


def load_config(source: str | Path | Mapping[str, Any] | Config | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load a YAML file (or mapping), apply ``--set`` overrides, validate everything."""
    if isinstance(source, Config):
        raw = source.to_dict()
    elif isinstance(source, Mapping):
        raw = dict(source)
    elif source is None:
        raw = {}
    else:
        raw = read_yaml(Path(source))
    defaults = Config().to_dict()
    for assignment in overrides:
        top = assignment.partition("=")[0].split(".")[0].strip()
        if top not in raw and top in defaults and "." in assignment.partition("=")[0]:
            raw[top] = defaults[top]  # `--set encoder.hidden=[8]` refines the default encoder
        apply_override(raw, assignment)
    return Config.from_dict(raw)
