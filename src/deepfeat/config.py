"""The typed config schema: YAML load/dump, ``--set`` overrides and strict validation.

One YAML file describes a run. Fixed sections (``training``, ``evaluation``, ``logging``) are
dataclasses whose keys are declared once with :func:`deepfeat.schema.key` (validation, help, docs and the JSON
Schema all come from that); old keys are read forward first (:mod:`deepfeat.migrations`). Pluggable sections
(``data``, ``encoder``, ``learner``, ``optimizer``, ``schedule``, ``regularization``) have the one shape
``{name: <registered name>, <its arguments>}`` and are checked against the registered factory's signature.
Everything is validated before any work starts: unknown keys and names fail with the dotted path and the close
match.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml

from deepfeat.data.bundle import LoadOptions
from deepfeat.data.datasets import DATASETS
from deepfeat.engine.diagnostics import DiagnosticsConfig
from deepfeat.engine.trainer import TrainingConfig
from deepfeat.errors import ConfigError
from deepfeat.eval.evaluations import EVALUATIONS, evaluation_spec
from deepfeat.eval.protocol import resolve_protocols
from deepfeat.learners.build import LEARNERS
from deepfeat.migrations import migrate
from deepfeat.nn.encoder import ENCODERS
from deepfeat.nn.regularizers import REGULARIZERS
from deepfeat.optim.optimizers import OPTIMIZERS, check_hyperparameters
from deepfeat.optim.schedulers import SCHEDULERS
from deepfeat.registry import Registry, check_kwargs
from deepfeat.schema import build, check_ranges, key, reject_unknown
from deepfeat.yaml_file import read_yaml


@dataclass
class DataSplit:
    """The keys of the ``data:`` section that split and normalize whatever source it names (besides its arguments)."""

    val_fraction: float | None = key(LoadOptions.val_fraction, ge=0, lt=1, help=(
        "share of the data held out for validation; null (default): 10% when that is >= 30 samples, else none "
        "(all data trains, the last epoch is kept)"))
    test_fraction: float = key(LoadOptions.test_fraction, ge=0, lt=1, help="share of the data held out for testing")
    normalize: bool = key(LoadOptions.normalize, help="standardize inputs with statistics of the training split only")
    classes: list[int | str] | None = key(LoadOptions.classes, help=(
        "keep only these classes (names or indices) in train, val and test, renumbered 0..K-1; null: all"))
    normal_classes: list[int | str] | None = key(LoadOptions.normal_classes, help=(
        "one-class setup: train and validate on these classes only, test on all (formerly train_classes)"))
    score_heldout: bool = key(LoadOptions.score_heldout, help="one-class setup: move the other classes' train/val "
                                                              "samples into test, so all are scored")
    augment: str | dict[str, Any] | None = key(None, help=(
        "augment training batches on the training device, batched: auto (the data kind's label-preserving one), an "
        "augmentation spec ({name: image, ...}, deepfeat list augmentations) or null: none"))


@dataclass
class OptimizerKeys:
    """The key of the ``optimizer:`` section the library reads besides the optimizer's own hyperparameters."""

    layer_decay: float | None = key(None, gt=0, le=1, help="layer-wise learning rates: each layer further from the "
                                                           "head gets lr x this; null: off")


# The names of the data section's split keys (what a run keeps when it swaps the data source).
DATA_SPLIT_KEYS = tuple(f.name for f in dataclasses.fields(DataSplit))
# Keys a {name: ...} section takes besides its factory's arguments (the library reads them), declared as a section.
SECTION_KEYS: dict[str, type] = {"data": DataSplit, "optimizer": OptimizerKeys}


@dataclass
class EvaluationConfig:
    """How learned features are evaluated after training (settings are recorded with results)."""

    max_samples: int = key(10000, ge=1, help="at most this many samples of a split are evaluated and plotted")
    embedding_plots: list[Literal["pca", "tsne", "umap"]] = key(
        factory=lambda: ["pca", "tsne"], help="2-D maps of the features drawn after training")
    protocol: list[str] = key(factory=lambda: ["linear", "knn", "retrieval"], help=(
        "evaluators run on the features (deepfeat list evaluations): linear, knn, cluster, fewshot, health, retrieval"))
    settings: dict[str, dict[str, Any]] = key(factory=dict, help=(
        "settings of any evaluation by name: a feature protocol's ({knn: {k: [5, 20]}, fewshot: {draws: 10}}) or one "
        "a learner's run declares ({low_label: {labels_per_class: [1, 5, 10]}, generative: {samples: 2000}})"))

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

    plots: bool = key(True, help="draw plots/*.png after training")
    report: bool = key(True, help="write report.html after training")
    tensorboard: bool = key(False, help="also log the metrics for TensorBoard (the tensorboard extra)")
    mlflow: bool = key(False, help="log params, metrics, results and artifacts to MLflow (the tracking extra)")
    tracking_uri: str | None = key(None, help="MLflow store; default: sqlite:///<runs folder>/mlflow.db (local, offline)")
    experiment: str | None = key(None, help="MLflow experiment; default: the config's name (else <dataset>-<learner>)")

    def __post_init__(self) -> None:
        for name in ("tracking_uri", "experiment"):
            if getattr(self, name) is not None and not self.mlflow:
                raise ConfigError(f"logging.{name}: expected logging.mlflow: true with it, got mlflow: false. "
                                  f"Set logging.mlflow=true to track this run in MLflow, or drop logging.{name}.")
            if getattr(self, name) == "":
                raise ConfigError(f"logging.{name}: expected a non-empty string, got ''. Drop it to use the default.")


@dataclass
class CompareConfig:
    """What ``deepfeat compare`` varies (``fit`` ignores it): a grid of dotted keys, named variants, seeds.

    Every combination of ``grid`` values (``{"optimizer.lr": [0.1, 0.01]}``) and ``variants`` (named
    sets of dotted overrides, ``{"l2": {"regularization": {"name": "l2"}}}``) runs once per seed.
    """

    grid: dict[str, list[Any]] = key(factory=dict, help="dotted key -> values to try, e.g. {optimizer.lr: [0.1, 0.01]}")
    variants: dict[str, dict[str, Any]] = key(factory=dict, help="named sets of dotted overrides, e.g. "
                                                                 "{l2: {regularization: {name: l2}}}")
    seeds: int = key(1, ge=1, help="runs per combination (seeds seed, seed+1, ...)")

    def __post_init__(self) -> None:
        check_ranges(self, "compare")
        for dotted, values in self.grid.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"compare.grid.{dotted}: expected a non-empty list of values, got {values!r}")
        for name, overrides in self.variants.items():
            if not isinstance(overrides, dict):
                raise ConfigError(f"compare.variants.{name}: expected a mapping of dotted keys to values, got {overrides!r}")


# The {name: ...} sections and the registry each names an entry of; each registry knows what the library passes its
# factories (Registry.takes, Registry.fills), so what remains is what a user may set.
SPECS: dict[str, Registry[Any]] = {"data": DATASETS, "encoder": ENCODERS, "learner": LEARNERS, "optimizer": OPTIMIZERS,
                                   "schedule": SCHEDULERS, "regularization": REGULARIZERS}


_SECTIONS: dict[str, type] = {"training": TrainingConfig, "evaluation": EvaluationConfig, "logging": LoggingConfig,
                             "diagnostics": DiagnosticsConfig, "compare": CompareConfig}


def fixed_sections() -> dict[str, type]:
    """``{section: its dataclass}`` of the fixed sections, in the order a config lists them."""
    return dict(_SECTIONS)


@dataclass
class Config:
    """A whole run. ``Config.from_dict`` validates; ``to_dict`` gives the resolved config."""

    data: dict[str, Any] = key(factory=lambda: {"name": "digits"},
                               help="the dataset by name, with its arguments (deepfeat list datasets)")
    encoder: dict[str, Any] = key(factory=lambda: {"name": "mlp"}, help="the network mapping a batch to "
                                  "(B, feature_dim) features, with its arguments (deepfeat list encoders)")
    learner: dict[str, Any] = key(factory=lambda: {"name": "classifier"}, help="what is learned and how: classifier, "
                                  "autoencoder, vae, simclr, ... (deepfeat list learners)")
    optimizer: dict[str, Any] = key(factory=lambda: {"name": "adam", "lr": 1e-3}, help="the optimizer with its "
                                    "hyperparameters, e.g. {name: adamw, lr: 1e-3} (deepfeat list optimizers)")
    schedule: dict[str, Any] = key(factory=lambda: {"name": "constant"}, help="the learning-rate schedule; every one "
                                   "takes warmup_epochs (deepfeat list schedules)")
    regularization: dict[str, Any] = key(factory=lambda: {"name": "none"}, help="a weight penalty on weights, never "
                                         "biases or norms (deepfeat list regularizers)")
    training: TrainingConfig = key(factory=TrainingConfig, help="how to train")
    evaluation: EvaluationConfig = key(factory=EvaluationConfig, help="how learned features are evaluated")
    logging: LoggingConfig = key(factory=LoggingConfig, help="what a run writes besides checkpoints and metrics")
    diagnostics: DiagnosticsConfig = key(factory=DiagnosticsConfig, help="layer statistics, pre-flight check, verdicts")
    compare: CompareConfig = key(factory=CompareConfig, help="what deepfeat compare varies (fit ignores it)")
    seed: int = key(0, help="seeds every random draw: splits, initialization, batch order, noise")
    name: str | None = key(None, help="names the run folder runs/<name>-<time>; null: <dataset>-<learner>")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> "Config":
        """Validate a raw mapping (as loaded from YAML) into a Config; ConfigError on any problem."""
        if raw is not None and not isinstance(raw, Mapping):
            raise ConfigError(f"config: expected a mapping of sections, got {type(raw).__name__}")
        raw = dict(raw or {})
        reject_unknown(raw, [f.name for f in dataclasses.fields(cls)], "")
        raw = migrate(raw, _defaults)
        sections = {name: raw.pop(name) for name in list(raw) if name in SPECS or name in _SECTIONS}
        top = build(cls, raw, "")  # seed, name: the keys outside any section
        for name, value in sections.items():
            built = validate_spec(name, value) if name in SPECS else build(_SECTIONS[name], value, name)
            setattr(top, name, built)
        return top

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data (every default filled in)."""
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def validate_spec(section: str, value: Any) -> dict[str, Any]:
    """Check a ``{name, **kwargs}`` section against its registry; return it with the canonical name."""
    registry = SPECS[section]
    name, kwargs = registry.split_spec(value, section)
    keys = [f.name for f in dataclasses.fields(SECTION_KEYS[section])] if section in SECTION_KEYS else []
    given = {key: kwargs.pop(key) for key in keys if key in kwargs}
    built = build(SECTION_KEYS[section], given, section) if given else None
    own = {key: getattr(built, key) for key in given}
    checked = check_kwargs(registry.get(name), kwargs, section, skip=registry.skip(name),
                           extra=dict.fromkeys(registry.fills), also=list(keys))
    if section == "optimizer":
        check_hyperparameters(checked, section)  # fail before a run folder exists, not when training starts
    return {"name": name, **checked, **own}


def _defaults() -> dict[str, Any]:
    """The default config as plain data (what the migrations fill a former key's omitted neighbours from)."""
    return Config().to_dict()


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
    for i, part in enumerate(keys[:-1]):
        child = node.get(part)
        if isinstance(child, str) and i == 0 and keys[0] in SPECS:
            child = {"name": child}  # allow `--set optimizer.lr=0.1` when the file says `optimizer: adam`
        if child is None:
            child = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {assignment!r}: '{'.'.join(keys[: i + 1])}' is {child!r}, not a section")
        node[part] = child
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
