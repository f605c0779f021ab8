"""Old config keys, read into today's: one ordered list of versioned steps, applied to the raw mapping before it is
validated, so configs and run folders written by earlier versions keep loading.

Each step names the version that changed the keys, says what it does, lists the former keys it reads (the fast
checks of :mod:`deepfeat.cli.precheck` let them through) and logs one deprecation notice when it rewrites something.
A key renamed in a later version gets a step appended here; nothing else in the code knows former names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from deepfeat.errors import ConfigError
from deepfeat.eval.protocol import resolve_protocols
from deepfeat.learners.build import LEARNERS

log = logging.getLogger("deepfeat")

Raw = dict[str, Any]
Defaults = Callable[[], Mapping[str, Any]]  # the default config as plain data, made only when a step needs it


@dataclass(frozen=True)
class Migration:
    """One step: ``since`` the version that changed these keys, the section and former keys it reads; ``apply`` takes
    the raw mapping and a function giving the default config (as plain data), and returns the mapping rewritten."""

    since: str
    description: str
    section: str
    former: tuple[str, ...]
    apply: Callable[[Raw, Defaults], Raw]


# Evaluation settings that learners once took, and where they live now (evaluation.settings.<name>.<key>).
MOVED_TO_EVALUATION = {"low_label": ("low_label", None), "eval_samples": ("generative", "samples"),
                       "fid_classifier": ("generative", "classifier"),
                       "inception_weights": ("generative", "inception_weights")}
# Evaluation keys that became settings of one evaluation: old key -> (evaluation, setting); None: all its settings.
MOVED_TO_SETTINGS = {"probe_C": ("linear_probe", "C"), "knn_k": ("knn", "k"), "knn_metric": ("knn", "metric"),
                     "protocol_settings": (None, None)}
# Data keys that were renamed: old -> new.
RENAMED_DATA_KEYS = {"train_classes": "normal_classes"}


def _move_evaluation_settings(raw: Raw, defaults: Defaults) -> Raw:
    """Move evaluation settings out of ``learner:`` into ``evaluation.settings``."""
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


def _noise_makes_a_denoiser(raw: Raw, defaults: Defaults) -> Raw:
    """``learner: {name: autoencoder, noise: ...}`` -> ``{name: denoising, noise: ...}``: an autoencoder with noise is
    the registered denoising autoencoder (its own declarations)."""
    learner = raw.get("learner")
    if not isinstance(learner, Mapping) or learner.get("noise") is None or not isinstance(learner.get("name"), str):
        return raw
    if learner["name"] not in LEARNERS or LEARNERS.canonical(learner["name"]) != "autoencoder":
        return raw
    log.warning("learner autoencoder with noise: resolved to learner denoising (the denoising autoencoder); "
                "write learner: {name: denoising, noise: ...}")
    return {**raw, "learner": {**learner, "name": "denoising"}}


def _move_probe_keys(raw: Raw, defaults: Defaults) -> Raw:
    """``evaluation.probe_C`` / ``knn_k`` / ``knn_metric`` / ``protocol_settings`` -> ``evaluation.settings``; what
    ``settings`` gives itself wins, as it did."""
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


def _rename_data_keys(raw: Raw, defaults: Defaults) -> Raw:
    """``data.train_classes`` -> ``data.normal_classes`` (and any other renamed data key)."""
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


def _fold_linear_probe(raw: Raw, defaults: Defaults) -> Raw:
    """Fold the removed ``evaluation.linear_probe`` flag into ``evaluation.protocol``: ``true`` (in every resolved
    config written before) changes nothing; ``false`` drops the linear probe."""
    value = raw.get("evaluation")
    if not isinstance(value, Mapping) or "linear_probe" not in value:
        return raw
    value = dict(value)
    flag = value.pop("linear_probe")
    if not isinstance(flag, bool):
        raise ConfigError(f"evaluation.linear_probe: expected true or false, got {flag!r}. It is replaced by "
                          "evaluation.protocol: list the evaluators to run, e.g. protocol: [knn]")
    if not flag:
        given = value["protocol"] if "protocol" in value else defaults()["evaluation"]["protocol"]
        value["protocol"] = [n for n in resolve_protocols(given) if n != "linear_probe"]
        log.warning(f"evaluation.linear_probe: false is deprecated; write evaluation.protocol: {value['protocol']} instead")
    return {**raw, "evaluation": value}


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0.1.0", "evaluation settings move from learner: to evaluation.settings", "learner",
              tuple(MOVED_TO_EVALUATION), _move_evaluation_settings),
    Migration("0.1.0", "an autoencoder with noise is the denoising autoencoder", "learner", (), _noise_makes_a_denoiser),
    Migration("0.1.0", "evaluation.probe_C / knn_k / knn_metric / protocol_settings move to evaluation.settings",
              "evaluation", tuple(MOVED_TO_SETTINGS), _move_probe_keys),
    Migration("0.1.0", "data.train_classes is named data.normal_classes", "data", tuple(RENAMED_DATA_KEYS),
              _rename_data_keys),
    Migration("0.1.0", "evaluation.linear_probe is folded into evaluation.protocol", "evaluation", ("linear_probe",),
              _fold_linear_probe),
)


def migrate(raw: Raw, defaults: Defaults) -> Raw:
    """``raw`` with every step applied in order (a step that finds nothing of its own returns it unchanged);
    ``defaults``: a function giving the default config as plain data."""
    for step in MIGRATIONS:
        raw = step.apply(raw, defaults)
    return raw


def former_keys() -> dict[str, list[str]]:
    """``{section: [former keys that still load]}``, for the checks that read no registry."""
    out: dict[str, list[str]] = {}
    for step in MIGRATIONS:
        out.setdefault(step.section, []).extend(step.former)
    return out
