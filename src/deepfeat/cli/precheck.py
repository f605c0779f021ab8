"""The checks of a config that need no registry imported: its keys, the names it chooses and their arguments, the
ranges the schema declares (:mod:`deepfeat.schema`) and the data's split fractions, against the names cache (:func:`deepfeat.cli.reference.cached_names`).

Loading a config imports every registry, torch with them: seconds before a misspelt key could be named. These checks
answer the common mistakes in a fraction of a second, in the same one line the full check gives; what they cannot
decide (types, values, files, the data itself) they leave to it, so they never refuse what it accepts. Without a
cache (not written yet, or plugins installed, whose names may change) they check nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deepfeat.cli.reference import CONFIG_KEY, cached_names
from deepfeat.errors import ConfigError
from deepfeat.registry import unknown_name
from deepfeat.schema import out_of_range, within
from deepfeat.typecheck import did_you_mean

_FRACTIONS = ("val_fraction", "test_fraction")


def precheck(raw: Any) -> None:
    """Raise the first problem of the config mapping ``raw`` these checks can see (a deepfeat error, one line)."""
    names = cached_names()
    schema = names.get(CONFIG_KEY) if names else None
    if schema is None or not isinstance(raw, Mapping):
        return
    _known(raw, schema["top"], "")
    for section, keys in schema["sections"].items():
        if isinstance(raw.get(section), Mapping):
            _known(raw[section], keys, f"{section}.")
    for section, spec in schema["specs"].items():
        if section in raw:
            _check_spec(raw[section], section, names[spec["kind"]], spec["also"], spec["former"])
    _check_ranges(raw, schema.get("ranges", {}))
    if isinstance(raw.get("data"), Mapping):
        _check_fractions(raw["data"])


def _check_ranges(raw: Mapping[str, Any], ranges: Mapping[str, Any]) -> None:
    """Numbers outside the range their key declares (other values: the full check says what is wrong)."""
    for dotted, declared in ranges.items():
        section, name = dotted.split(".")
        value = raw[section].get(name) if isinstance(raw.get(section), Mapping) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not within(value, declared["bounds"]):
            raise out_of_range(dotted, declared["expected"], value)


def _known(raw: Mapping[str, Any], valid: list[str], prefix: str) -> None:
    for key in raw:
        if key not in valid:
            raise ConfigError(f"unknown key '{prefix}{key}': expected one of {', '.join(valid)}."
                              f"{did_you_mean(str(key), valid)}")


def _check_spec(value: Any, section: str, kind: dict[str, Any], also: list[str], former: list[str]) -> None:
    """A ``name`` or ``{name: ..., **arguments}`` section: the name registered, its arguments known, none missing."""
    if isinstance(value, str):
        name, kwargs, where = value, {}, section
    elif isinstance(value, Mapping) and isinstance(value.get("name"), str):
        name, kwargs, where = value["name"], {k: v for k, v in value.items() if k != "name"}, f"{section}.name"
    else:
        return  # not a spec these checks read: the full check says what is wrong with it
    key = name.lower()
    canonical = key if key in kind["entries"] else kind["aliases"].get(key)
    if canonical is None:
        raise unknown_name(kind["kind"], name, sorted(kind["entries"]), sorted(kind["aliases"]), where)
    params = kind.get("params", {}).get(canonical)
    if params is None:
        return  # takes **kwargs (or an older cache): anything goes here
    takes = params["takes"]
    for arg in kwargs:
        if arg not in takes and arg not in also and arg not in former:
            more = f" ({section} also takes {', '.join(also)})" if also else ""
            raise ConfigError(f"unknown key '{section}.{arg}': expected one of {', '.join(sorted(takes)) or '(none)'}"
                              f"{more}.{did_you_mean(arg, sorted(takes) + also)}")
    missing = [n for n in params["required"] if n not in kwargs]
    if missing:
        raise ConfigError(f"missing key '{section}.{missing[0]}': expected a value for {', '.join(missing)}, got none. "
                          f"Add it, e.g. {{{', '.join(f'{n}: ...' for n in missing)}}} next to the name.")


def _check_fractions(data: Mapping[str, Any]) -> None:
    """Split fractions leaving nothing to train on (numbers only; other values: the full check)."""
    given = {k: data[k] for k in _FRACTIONS if isinstance(data.get(k), (int, float)) and not isinstance(data[k], bool)}
    if len(given) == 2 and sum(given.values()) >= 1:
        raise ConfigError(f"split fractions at data: expected val_fraction + test_fraction < 1, got "
                          f"{given['val_fraction']} + {given['test_fraction']}. Leave some data for training.")
