"""A search space for ``deepfeat tune``: dotted config keys -> ranges or choices, read from YAML and checked.

    optimizer.lr: {low: 1.0e-4, high: 3.0e-2, log: true}        # float (log scale)
    training.batch_size: {low: 32, high: 256, log: true}          # int: both bounds are integers
    encoder.dropout: {low: 0.0, high: 0.5, step: 0.05}            # float on a grid
    encoder.hidden: {choices: [[128, 64], [256, 128], [512, 256]]}  # categorical: any YAML values

``type: float|int|categorical`` may be given; otherwise ``choices`` means categorical and integer bounds
mean int. Every key and every bound or choice is checked against the config before any trial runs
(:func:`check_space`): an unknown key, an empty or reversed range, a log range reaching 0 or a categorical
with one value is a ConfigError of one line. Optuna's own distributions draw the values
(:meth:`Param.suggest`); categorical values are passed to Optuna as JSON text, so lists and mappings can be
choices and the study's storage holds only strings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from deepfeat.config import Config, load_config, read_yaml
from deepfeat.errors import ConfigError
from deepfeat.registry import did_you_mean
from deepfeat.run.trials import overrides_of

SPEC_KEYS = ("type", "low", "high", "log", "step", "choices")
TYPES = ("float", "int", "categorical")


@dataclass(frozen=True)
class Param:
    """One searched config key: a float or int range (``log``, ``step``) or categorical ``choices``."""

    key: str
    type: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[str, ...] = ()  # JSON text of each choice

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna ``trial`` draws for this key (categorical: decoded from its JSON text)."""
        if self.type == "categorical":
            return json.loads(trial.suggest_categorical(self.key, list(self.choices)))
        if self.type == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)

    def value(self, drawn: Any) -> Any:
        """A value as Optuna stores it (``trial.params``) -> the config value."""
        return json.loads(drawn) if self.type == "categorical" else drawn

    def extremes(self) -> list[Any]:
        """The values to check against the config: both bounds, or every choice."""
        return [json.loads(c) for c in self.choices] if self.type == "categorical" else [self.low, self.high]

    def describe(self) -> str:
        """``"float [0.0001, 0.03] log"`` or ``"categorical [128, 64] | [256, 128]"``."""
        if self.type == "categorical":
            return "categorical " + " | ".join(self.choices)
        return f"{self.type} [{self.low}, {self.high}]" + (" log" if self.log else "") + (f" step {self.step}" if self.step else "")


def read_space(source: str | Path | Mapping[str, Any]) -> list[Param]:
    """The params of a space YAML file (or mapping), each spec checked on its own (see :func:`check_space`)."""
    where = f"search space {source}" if not isinstance(source, Mapping) else "search space"
    raw = dict(source) if isinstance(source, Mapping) else read_yaml(Path(source))
    if not raw:
        raise ConfigError(f"{where}: expected at least one key to search, got none. Example: "
                          "optimizer.lr: {low: 1.0e-4, high: 1.0e-2, log: true}")
    return [parse_param(str(key), spec, where) for key, spec in raw.items()]


def parse_param(key: str, spec: Any, where: str = "search space") -> Param:
    """One ``key: {low, high, log, step} | {choices}`` entry -> a :class:`Param`; ConfigError when it is wrong."""
    at = f"{where}, key '{key}'"
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{at}: expected a mapping such as {{low: 0.0, high: 0.5}} or {{choices: [a, b]}}, got {spec!r}")
    for name in spec:
        if name not in SPEC_KEYS:
            raise ConfigError(f"{at}: unknown setting '{name}': expected one of {', '.join(SPEC_KEYS)}.{did_you_mean(str(name), list(SPEC_KEYS))}")
    kind = spec.get("type") or ("categorical" if "choices" in spec else _range_type(spec))
    if kind not in TYPES:
        raise ConfigError(f"{at}: type expected one of {', '.join(TYPES)}, got {kind!r}")
    if kind == "categorical":
        return _categorical(key, spec, at)
    return _range(key, kind, spec, at)


def _range_type(spec: Mapping[str, Any]) -> str:
    bounds = [spec.get("low"), spec.get("high")]
    return "int" if all(isinstance(b, int) and not isinstance(b, bool) for b in bounds) else "float"


def _categorical(key: str, spec: Mapping[str, Any], at: str) -> Param:
    choices = spec.get("choices")
    extra = [k for k in ("low", "high", "log", "step") if k in spec]
    if extra:
        raise ConfigError(f"{at}: a categorical takes choices only, got {', '.join(extra)} too. Drop them, or drop choices")
    if not isinstance(choices, list):
        raise ConfigError(f"{at}: choices expected a list of values, got {choices!r}")
    texts = list(dict.fromkeys(json.dumps(c, sort_keys=True) for c in choices))
    if len(texts) < 2:
        raise ConfigError(f"{at}: a categorical expected at least two different choices, got {len(texts)} "
                          f"({choices!r}). Add choices, or set the value in the config and drop the key from the space")
    return Param(key, "categorical", choices=tuple(texts))


def _range(key: str, kind: str, spec: Mapping[str, Any], at: str) -> Param:
    if "choices" in spec:
        raise ConfigError(f"{at}: a {kind} range takes low/high, got choices too. Drop one of them")
    low, high, log, step = spec.get("low"), spec.get("high"), spec.get("log", False), spec.get("step")
    for name, bound in (("low", low), ("high", high)):
        if not isinstance(bound, (int, float)) or isinstance(bound, bool):
            raise ConfigError(f"{at}: {name} expected a number, got {bound!r}. Give both low and high")
    if kind == "int" and not all(float(b).is_integer() for b in (low, high)):
        raise ConfigError(f"{at}: an int range expected integer bounds, got low {low}, high {high}")
    if low > high:
        raise ConfigError(f"{at}: expected low <= high, got low {low} > high {high}. Swap them")
    if low == high:
        raise ConfigError(f"{at}: empty range, low and high are both {low}. Widen it, or set the value in the config "
                          "and drop the key from the space")
    if not isinstance(log, bool):
        raise ConfigError(f"{at}: log expected true or false, got {log!r}")
    if log and low <= 0:
        raise ConfigError(f"{at}: a log range expected low > 0, got low {low}. Raise low, or drop log: true")
    if step is not None and (log or not isinstance(step, (int, float)) or step <= 0 or step > high - low):
        raise ConfigError(f"{at}: step expected a positive number at most high - low ({high - low}) on a linear range, "
                          f"got {step!r}{' with log: true' if log else ''}")
    return Param(key, kind, low, high, log, step)


def check_space(params: list[Param], config: Config) -> None:
    """Every key is a config key and every bound or choice makes a valid config; ConfigError naming the key otherwise."""
    raw = config.to_dict()
    for p in params:
        for value in p.extremes():
            try:
                load_config(raw, overrides_of({p.key: value}))
            except ConfigError as e:
                raise ConfigError(f"search space key '{p.key}' = {json.dumps(value)}: {e}") from None

