"""One generic registry: name -> factory, with aliases, descriptions and "did you mean".

Every pluggable piece (activation, initializer, optimizer, encoder, learner, dataset, ...) is chosen
by a name resolved here and only here, never by an import path, so a config or a checkpoint can
never make deepfeat import or run arbitrary code (the idea of timm's ``_registry.py``).

A *spec* is what users write: ``"adam"``, ``{"name": "adam", "lr": 1e-3}``, or (in Python) an
already-built object, which :meth:`Registry.build` passes through unchanged (Keras' ``get``).
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterator, Mapping, TypeVar

from deepfeat.errors import ConfigError
from deepfeat.typecheck import coerce, hints

T = TypeVar("T")

# Every registry created, by kind, so `deepfeat list` can show them all.
_ALL: dict[str, "Registry[Any]"] = {}

# Kinds the README calls by another name than their registry's plural (the plural stays accepted).
KIND_NAMES: dict[str, str] = {"schedulers": "schedules"}
# More words `deepfeat list` takes for a kind -> the registry's plural (singulars are accepted as well).
KIND_ALIASES: dict[str, str] = {"schedules": "schedulers", "evaluators": "metrics", "protocols": "metrics",
                                "backbones": "backbone sources", "sources": "backbone sources"}


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: Callable[..., T]
    description: str
    aliases: tuple[str, ...]


class Registry(Generic[T]):
    """A named collection of factories of one kind (``"activation"``, ``"encoder"``, ...)."""

    def __init__(self, kind: str, plural: str | None = None) -> None:
        self.kind = kind
        self.plural = plural or kind + "s"
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}
        _ALL[self.plural] = self

    def register(
        self, name: str, *, aliases: tuple[str, ...] = (), description: str | None = None
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator form of :meth:`add`."""

        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            self.add(name, factory, aliases=aliases, description=description)
            return factory

        return deco

    def add(
        self,
        name: str,
        factory: Callable[..., T],
        *,
        aliases: tuple[str, ...] = (),
        description: str | None = None,
    ) -> None:
        """Register ``factory`` under ``name`` (and ``aliases``); names are case-insensitive."""
        key = name.lower()
        if key in self._entries or key in self._aliases:
            raise ConfigError(f"{self.kind} '{name}' is registered twice")
        doc = description or (inspect.getdoc(factory) or "").split("\n")[0]
        self._entries[key] = Entry(key, factory, doc, tuple(a.lower() for a in aliases))
        for alias in aliases:
            self._aliases[alias.lower()] = key

    def names(self) -> list[str]:
        """The canonical names, sorted."""
        return sorted(self._entries)

    def entries(self) -> Iterator[Entry[T]]:
        for name in self.names():
            yield self._entries[name]

    def canonical(self, name: str, where: str | None = None) -> str:
        """The canonical name for ``name`` or an alias; a :class:`ConfigError` with suggestions otherwise."""
        if not isinstance(name, str):
            raise ConfigError(
                f"{self.kind} name at {where or self.kind}: expected a string, got {type(name).__name__} {name!r}"
            )
        key = name.lower()
        if key in self._entries:
            return key
        if key in self._aliases:
            return self._aliases[key]
        known = self.names() + sorted(self._aliases)
        raise ConfigError(
            f"unknown {self.kind} '{name}' at {where or self.kind}: expected one of "
            f"{', '.join(self.names())}.{did_you_mean(key, known)}"
        )

    def get(self, name: str, where: str | None = None) -> Callable[..., T]:
        """The factory registered as ``name``."""
        return self._entries[self.canonical(name, where)].factory

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name.lower() in self._entries or name.lower() in self._aliases)

    def split_spec(self, spec: Any, where: str | None = None) -> tuple[str, dict[str, Any]]:
        """``"adam"`` or ``{"name": "adam", **kw}`` -> (canonical name, kwargs)."""
        where = where or self.kind
        if isinstance(spec, str):
            return self.canonical(spec, where), {}
        if isinstance(spec, Mapping):
            if "name" not in spec:
                raise ConfigError(
                    f"{self.kind} at {where}: expected a mapping with a 'name' key, got keys "
                    f"{sorted(spec)}. Write it as {{name: <{self.kind} name>, ...}}."
                )
            kwargs = {k: v for k, v in spec.items() if k != "name"}
            return self.canonical(spec["name"], f"{where}.name"), kwargs
        raise ConfigError(
            f"{self.kind} at {where}: expected a name or a {{name: ..., ...}} mapping, "
            f"got {type(spec).__name__} {spec!r}"
        )

    def build(self, spec: Any, *args: Any, where: str | None = None, **extra: Any) -> T:
        """Build from a spec; ``args``/``extra`` are passed through (e.g. the input shape).

        An object that is not a str or mapping is returned unchanged, so Python users can pass
        instances directly.
        """
        if not isinstance(spec, (str, Mapping)):
            return spec
        name, kwargs = self.split_spec(spec, where)
        factory = self._entries[name].factory
        kwargs = check_kwargs(factory, kwargs, f"{where or self.kind}", skip=len(args), extra=extra)
        return factory(*args, **kwargs, **extra)


def check_kwargs(
    factory: Callable[..., Any],
    kwargs: Mapping[str, Any],
    where: str,
    skip: int = 0,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Check keyword arguments against ``factory``'s signature and return them type-coerced.

    Unknown keys fail with the close match and the valid ones; values are checked against the
    annotations (``"1e-3"`` becomes ``0.001`` for a float parameter).
    """
    params = accepted_params(factory, skip=skip, extra=extra)
    if params is None:
        return dict(kwargs)
    for key in kwargs:
        if key not in params:
            raise ConfigError(
                f"unknown key '{where}.{key}': expected one of {', '.join(sorted(params)) or '(none)'}."
                f"{did_you_mean(key, sorted(params))}"
            )
    types_ = hints(factory)
    return {
        k: coerce(v, types_[k], f"{where}.{k}") if k in types_ else v for k, v in kwargs.items()
    }


def accepted_params(
    factory: Callable[..., Any], skip: int = 0, extra: Mapping[str, Any] | None = None
) -> dict[str, inspect.Parameter] | None:
    """The keyword parameters a user may set on ``factory`` (None when it takes ``**kwargs``)."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    skipped = {p.name for p in positional[:skip]} | set(extra or {})
    return {
        p.name: p
        for p in params
        if p.name not in skipped and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def all_registries() -> dict[str, Registry[Any]]:
    """Every registry by its plural kind (``"activations"``, ``"encoders"``, ...)."""
    return dict(_ALL)


def kind_name(plural: str) -> str:
    """What the README and ``deepfeat list`` call the kind of the registry ``plural`` (``schedulers`` -> ``schedules``)."""
    return KIND_NAMES.get(plural, plural)


def find_kind(word: str, plurals: list[str] | tuple[str, ...]) -> str:
    """The registry plural among ``plurals`` that ``word`` names: the plural, its README name, an alias or a singular.

    ``"schedules"``, ``"scheduler"`` and ``"schedulers"`` all give ``"schedulers"``; anything else is a
    :class:`ConfigError` listing the kinds, with the close match.
    """
    key = " ".join(word.lower().replace("_", " ").replace("-", " ").split())  # backbone_sources, backbone-sources
    for candidate in (key, key + "s", KIND_ALIASES.get(key), KIND_ALIASES.get(key + "s")):
        if candidate in plurals:
            return candidate
    names = sorted(kind_name(p) for p in plurals)
    raise ConfigError(f"unknown kind '{word}' at deepfeat list: expected one of {', '.join(names)}."
                      f"{did_you_mean(key, names + sorted(set(plurals) | KIND_ALIASES.keys()))}")
