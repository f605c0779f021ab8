"""The config schema, declared once per key: type, default, allowed range, one-line help, the version it appeared in.

A fixed config section is a dataclass whose fields are declared with :func:`key`. Everything else is derived from
that one declaration: validation and coercion (pydantic validates the dataclass), the one-line errors
(:func:`build`), ``deepfeat fit --help-config``, the documentation's config reference and the JSON Schema
(:func:`json_schema`), so none of them can drift from the code that reads the key.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from deepfeat.errors import ConfigError, DeepfeatError
from deepfeat.typecheck import did_you_mean, hints, type_name

if TYPE_CHECKING:
    from pydantic import TypeAdapter, ValidationError

FIRST_RELEASE = "0.1.0"
T = TypeVar("T")
_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_OPS = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}
_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def key(default: Any = dataclasses.MISSING, *, help: str, since: str = FIRST_RELEASE,
        factory: Callable[[], Any] | None = None, **bounds: float) -> Any:
    """A config key: a dataclass field with its default (or ``factory`` for a mutable one), its one-line ``help``,
    the version it appeared in (``since``; keys added after the first release name theirs) and its allowed range
    (``gt``, ``ge``, ``lt``, ``le``). Choices are the annotation's ``Literal``."""
    unknown = bounds.keys() - _BOUNDS.keys()
    if unknown:
        raise TypeError(f"key(): unknown bound {sorted(unknown)[0]!r}; expected among {', '.join(_BOUNDS)}")
    metadata = {"description": help, "json_schema_extra": {"x-since": since}, **bounds}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Key:
    """One declared key as the help, the docs and the JSON Schema show it."""

    name: str
    annotation: Any
    default: Any
    help: str
    since: str
    bounds: dict[str, float]


@functools.cache
def keys(cls: type) -> tuple[Key, ...]:
    """The declared keys of the section dataclass ``cls``, in order (read once per class: every check reads them)."""
    annotations = hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        meta = f.metadata
        out.append(Key(f.name, annotations[f.name], default, meta.get("description", ""),
                       meta.get("json_schema_extra", {}).get("x-since", FIRST_RELEASE),
                       {b: meta[b] for b in _BOUNDS if b in meta}))
    return tuple(out)


@functools.cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    """pydantic's validator of ``cls`` (imported here: the checks that read no registry never need it)."""
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


def build(cls: type[T], raw: Any, where: str) -> T:
    """The section ``cls`` from the mapping ``raw`` (``None``: its defaults), strictly: an unknown key, a value of
    the wrong type or out of its range is one :class:`ConfigError` naming the dotted key."""
    if raw is None:
        return cls()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"section '{where}': expected a mapping, got {type(raw).__name__} {raw!r}")
    reject_unknown(raw, [f.name for f in dataclasses.fields(cls)], f"{where}." if where else "")  # type: ignore[arg-type]
    for declared in keys(cls):
        if declared.name in raw and not _booleans_match(raw[declared.name], declared.annotation):
            value, at = raw[declared.name], f"{where}.{declared.name}" if where else declared.name
            raise ConfigError(f"wrong type at {at}: expected {type_name(declared.annotation)}, got "
                              f"{type(value).__name__} {value!r}.")
    from pydantic import ValidationError

    try:
        return _adapter(cls).validate_python(dict(raw))  # type: ignore[no-any-return]
    except ValidationError as e:
        raise one_line(e, cls, raw, where) from None


def _booleans_match(value: Any, annotation: Any) -> bool:
    """Whether ``value`` is a boolean exactly where ``annotation`` wants one: pydantic's lax mode would take
    ``true`` for the number 1 and ``1`` or ``"yes"`` for true, which in a config are mistakes, not conversions."""
    members = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) \
        else (annotation,)
    if isinstance(value, bool):
        return bool in members or Any in members
    words = [w for m in members if typing.get_origin(m) is typing.Literal for w in typing.get_args(m)]
    only_bool = bool in members and all(m in (bool, type(None)) or typing.get_origin(m) is typing.Literal
                                        for m in members)
    return not only_bool or value is None or value in words


def reject_unknown(raw: Mapping[str, Any], valid: list[str], prefix: str) -> None:
    """A :class:`ConfigError` for the first key of ``raw`` not among ``valid``, with the close match."""
    for name in raw:
        if name not in valid:
            raise ConfigError(
                f"unknown key '{prefix}{name}': expected one of {', '.join(valid)}.{did_you_mean(str(name), valid)}"
            )


def one_line(error: ValidationError, cls: type, raw: Mapping[str, Any], where: str) -> DeepfeatError:
    """pydantic's first error as deepfeat's one line: ``<what> at <key>: expected <X>, got <Y>. <fix>``."""
    first = error.errors(include_url=False)[0]
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, DeepfeatError):  # a rule of the section itself (its __post_init__) said it already
        return cause
    declared = {k.name: k for k in keys(cls)}
    name = str(first["loc"][0])  # every key has a default and unknown keys are refused first: a key is at fault
    at = f"{where}.{name}" if where else name
    value, ann = raw[name], declared[name].annotation
    if first["type"] in _RANGE_ERRORS:
        return _out_of_range(declared[name], value, at)
    words = re.findall(r"'([^']*)'", str(first.get("ctx", {}).get("expected", "")))
    close = did_you_mean(str(first["input"]), words) if isinstance(first["input"], str) else ""
    return ConfigError(f"wrong type at {at}: expected {type_name(ann)}, got {type(value).__name__} {value!r}.{close}")


def check_ranges(section: Any, where: str) -> None:
    """A :class:`ConfigError` for the first key of the section instance ``section`` outside its declared range, so a
    section built in Python (``TrainingConfig(epochs=0)``) is refused as the same key in a YAML file is."""
    for declared in keys(type(section)):
        value = getattr(section, declared.name)
        if not declared.bounds or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not within(value, declared.bounds):
            raise _out_of_range(declared, value, f"{where}.{declared.name}")


def within(value: float, bounds: Mapping[str, float]) -> bool:
    """Whether ``value`` lies within ``bounds`` (``{"ge": 0, "lt": 1}``); nan lies in no range."""
    return all(_OPS[bound](value, limit) for bound, limit in bounds.items())


def out_of_range(at: str, expected: str, value: Any) -> ConfigError:
    """The one line for a value outside its range: ``expected`` as :func:`range_text` says it."""
    return ConfigError(f"value out of range at {at}: expected {expected}, got {value!r}. Set {at} within that range.")


def _out_of_range(declared: Key, value: Any, at: str) -> ConfigError:
    return out_of_range(at, range_text(declared), value)


def range_text(declared: Key) -> str:
    """``an integer >= 1 or null``, ``a number in (0, 1]``: what a bounded key allows, in words."""
    args = typing.get_args(declared.annotation)
    whole = declared.annotation is int or int in args
    kind = "an integer" if whole else "a number"
    b = declared.bounds
    if len(b) == 2:
        low, high = (("(", b["gt"]) if "gt" in b else ("[", b["ge"])), (("]", b["le"]) if "le" in b else (")", b["lt"]))
        text = f"{kind} in {low[0]}{low[1]}, {high[1]}{high[0]}"
    else:
        text = " ".join(f"{kind} {_BOUNDS[bound]} {limit}" for bound, limit in b.items())
    optional = type(None) in args and typing.get_origin(declared.annotation) in (typing.Union, types.UnionType)
    return text + (" or null" if optional else "")


def json_schema(cls: type) -> dict[str, Any]:
    """The JSON Schema of the section ``cls`` (its keys' types, defaults, ranges, help), no other key allowed."""
    schema = _adapter(cls).json_schema()
    schema["additionalProperties"] = False
    schema.pop("required", None)  # every config key has a default
    return schema
