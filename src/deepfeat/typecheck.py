"""Check (and gently coerce) config values against Python type annotations.

Used wherever user values meet a factory's signature, so ``lr: "1e-3"`` (YAML 1.1 reads ``1e-3``
without a dot as a string) becomes a float, while ``epochs: "ten"`` fails with the expected type.
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import difflib
import types
import typing
from typing import Any, Callable, TypeVar

from deepfeat.errors import ConfigError

_NONE = type(None)
T = TypeVar("T")


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def type_name(annotation: Any) -> str:
    """A short human name for an annotation (``int``, ``list[int]``, ``float | None``)."""
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """Return ``value`` converted to ``annotation`` where that is lossless, else raise ConfigError.

    Unknown or complex annotations (callables, modules, classes of the library) are accepted as-is:
    this is a guard for user-written configs, not a full type system.
    """
    ok, out = _coerce(value, annotation)
    if not ok:
        raise ConfigError(
            f"wrong type at {where}: expected {type_name(annotation)}, got "
            f"{type(value).__name__} {value!r}.{_close_choice(value, annotation)}"
        )
    return out


def _close_choice(value: Any, annotation: Any) -> str:
    """The "did you mean" for a mistyped word among the words a ``Literal`` (possibly in a union) allows."""
    if not isinstance(value, str):
        return ""
    literals = [annotation] + list(typing.get_args(annotation))
    words = [a for lit in literals if typing.get_origin(lit) is typing.Literal for a in typing.get_args(lit)]
    return did_you_mean(value, [w for w in words if isinstance(w, str)])


def _coerce(value: Any, ann: Any) -> tuple[bool, Any]:
    if ann is Any or ann is typing.Any or ann is None and value is None:
        return True, value
    if ann is _NONE or ann is None:
        return value is None, value
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin in (typing.Union, types.UnionType):
        for arg in sorted(args, key=lambda a: a is str):  # try str last so "1e-3" -> float
            ok, out = _coerce(value, arg)
            if ok:
                return True, out
        return False, value
    if origin is typing.Literal:
        return value in args, value
    if ann is bool:
        return isinstance(value, bool), value
    if ann is int:
        if isinstance(value, bool):
            return False, value
        if isinstance(value, int):
            return True, value
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        return False, value
    if ann is float:
        return _to_float(value)
    if ann is str:
        return isinstance(value, str), value
    if origin in (list, tuple, cabc.Sequence) or ann in (list, tuple):
        return _coerce_sequence(value, origin or ann, args)
    if origin in (dict, cabc.Mapping) or ann in (dict,):
        return isinstance(value, cabc.Mapping), value
    return True, value


def _to_float(value: Any) -> tuple[bool, Any]:
    if isinstance(value, bool):
        return False, value
    if isinstance(value, (int, float)):
        return True, float(value)
    if isinstance(value, str):
        try:
            return True, float(value)
        except ValueError:
            return False, value
    return False, value


def _coerce_sequence(value: Any, origin: Any, args: tuple[Any, ...]) -> tuple[bool, Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        return False, value
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        if len(args) != len(value):
            return False, value
        pairs = list(zip(value, args))
    else:
        item = args[0] if args else Any
        pairs = [(v, item) for v in value]
    out = []
    for v, a in pairs:
        ok, c = _coerce(v, a)
        if not ok:
            return False, value
        out.append(c)
    return True, tuple(out) if origin is tuple else out


def hints(factory: Callable[..., Any]) -> dict[str, Any]:
    """Resolved type hints of a function or of a class's ``__init__`` ({} when unresolvable)."""
    target = factory.__init__ if isinstance(factory, type) else factory
    try:
        return typing.get_type_hints(target)
    except Exception:  # unresolvable forward references: skip type checks rather than crash
        return {}


def stored_record(cls: type[T], raw: Any, where: str, required: tuple[str, ...] = ()) -> T:
    """The dataclass ``cls`` rebuilt from a mapping a file stored, strictly: ConfigError for a key ``cls`` does not
    have, a key it needs (no default, or named in ``required``) that is missing, or a value of the wrong type.

    A file changed by a bit flip or a hand edit is then refused with the key at fault, instead of failing
    later deep inside the code that uses it.
    """
    if not isinstance(raw, cabc.Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(str(k) for k in raw if k not in fields)
    if unknown:
        raise ConfigError(f"{where}: expected keys among {', '.join(fields)}, got unknown key {unknown[0]!r}")
    needed = [n for n, f in fields.items() if n in required
              or (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)]
    missing = [n for n in needed if n not in raw]
    if missing:
        raise ConfigError(f"{where}: expected the key {missing[0]!r}, got none")
    annotations = typing.get_type_hints(cls)
    return cls(**{k: coerce(v, annotations[k], f"{where}.{k}") for k, v in raw.items()})
