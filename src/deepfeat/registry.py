"""One generic registry: name -> factory, with aliases, descriptions and "did you mean".

Every pluggable piece (activation, initializer, optimizer, encoder, learner, dataset, ...) is chosen
by a name resolved here and only here, never by an import path, so a config or a checkpoint can
never make deepfeat import or run arbitrary code (the idea of timm's ``_registry.py``).

A *spec* is what users write: ``"adam"``, ``{"name": "adam", "lr": 1e-3}``, or (in Python) an
already-built object, which :meth:`Registry.build` passes through unchanged (Keras' ``get``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterator, Literal, Mapping, Sequence, TypeVar

from deepfeat.errors import ConfigError, UnknownNameError
from deepfeat.typecheck import coerce, did_you_mean, hints

# Installed packages extend deepfeat by declaring an entry point in this group; loading it imports the module,
# whose decorators register its pieces (``[project.entry-points."deepfeat.plugins"] my_nets = "my_nets"``).
PLUGIN_GROUP = "deepfeat.plugins"
_plugins_loaded = False

T = TypeVar("T")

# How a name of the user's own (or of a plugin module) gets registered in this process.
IMPORT_FIX = "import the module that registers it first (in Python, or `deepfeat --import MODULE ...` on the command line)"

# Every registry created, by kind, so `deepfeat list` can show them all.
_ALL: dict[str, "Registry[Any]"] = {}

@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: Callable[..., T]
    description: str
    aliases: tuple[str, ...]
    meta: Any = None  # what an entry declares besides its factory (e.g. an evaluation's outputs)


class Registry(Generic[T]):
    """A named collection of factories of one kind (``"activation"``, ``"encoder"``, ...)."""

    def __init__(self, kind: str, plural: str | None = None, *, takes: int | Literal["positional"] = 0,
                 fills: tuple[str, ...] = ()) -> None:
        """``takes``: how many leading positional arguments the library passes every factory (an encoder's input
        shape, an optimizer's parameters), or ``"positional"`` for all of them (the user's settings are keyword-only);
        ``fills``: the keyword arguments the library passes. What is left is what a user sets, next to the name."""
        self.kind = kind
        self.plural = plural or kind + "s"
        self.takes, self.fills = takes, fills
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}
        _ALL[self.plural] = self

    def register(
        self, name: str, *, aliases: tuple[str, ...] = (), description: str | None = None, meta: Any = None
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator form of :meth:`add`."""

        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            self.add(name, factory, aliases=aliases, description=description, meta=meta)
            return factory

        return deco

    def add(
        self,
        name: str,
        factory: Callable[..., T],
        *,
        aliases: tuple[str, ...] = (),
        description: str | None = None,
        meta: Any = None,
    ) -> None:
        """Register ``factory`` under ``name`` (and ``aliases``); names are case-insensitive. A name or an alias that
        is already taken is refused: both address the entry in configs, so one word must mean one entry."""
        key = name.lower()
        for word in (key, *(a.lower() for a in aliases)):
            if word in self._entries or word in self._aliases:
                taken = word if word in self._entries else self._aliases[word]
                raise ConfigError(f"{self.kind} '{name}' at registration: expected a new name, got '{word}', which "
                                  f"already names the {self.kind} '{taken}'. Pick another name or alias.")
        doc = description or (inspect.getdoc(factory) or "").split("\n")[0]
        self._entries[key] = Entry(key, factory, doc, tuple(a.lower() for a in aliases), meta)
        for alias in aliases:
            self._aliases[alias.lower()] = key

    def names(self) -> list[str]:
        """The canonical names, sorted (installed plugins' names included)."""
        load_plugins()
        return sorted(self._entries)

    def aliases(self) -> dict[str, str]:
        """Every alias and the canonical name it stands for."""
        return dict(self._aliases)

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
        if key not in self._entries and key not in self._aliases and load_plugins():
            return self.canonical(name, where)  # an installed plugin registered it
        if key in self._entries:
            return key
        if key in self._aliases:
            return self._aliases[key]
        raise unknown_name(self.kind, name, self.names(), sorted(self._aliases), where or self.kind)

    def get(self, name: str, where: str | None = None) -> Callable[..., T]:
        """The factory registered as ``name``."""
        return self._entries[self.canonical(name, where)].factory

    def meta(self, name: str, where: str | None = None) -> Any:
        """What the entry ``name`` (or an alias) declares besides its factory (``None`` when nothing)."""
        return self._entries[self.canonical(name, where)].meta

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return key in self._entries or key in self._aliases or (load_plugins() and self.__contains__(name))

    def skip(self, name: str) -> int:
        """How many leading positional arguments the library passes ``name``'s factory (see ``takes``)."""
        if self.takes != "positional":
            return self.takes
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return sum(p.kind in kinds for p in _signature_params(self.get(name)))

    def params(self, name: str) -> dict[str, inspect.Parameter] | None:
        """The parameters of ``name``'s factory that a user sets next to the name (None when it takes ``**kwargs``)."""
        return accepted_params(self.get(name), skip=self.skip(name), extra=dict.fromkeys(self.fills))

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


def unknown_name(kind: str, name: str, names: list[str], aliases: list[str], where: str) -> UnknownNameError:
    """The one-line error for a name no entry of ``kind`` has: the valid names and the close match, else how to
    register a name of one's own."""
    hint = did_you_mean(name.lower(), names + aliases) or f" If '{name}' is your own, {IMPORT_FIX}."
    return UnknownNameError(f"unknown {kind} '{name}' at {where}: expected one of {', '.join(names)}.{hint}", kind, name)


def check_kwargs(
    factory: Callable[..., Any],
    kwargs: Mapping[str, Any],
    where: str,
    skip: int = 0,
    extra: Mapping[str, Any] | None = None,
    also: Sequence[str] = (),
) -> dict[str, Any]:
    """Check keyword arguments against ``factory``'s signature and return them type-coerced.

    Unknown keys fail with the close match and the valid ones, among them ``also``: keys the caller
    reads itself before passing the rest on (``data.val_fraction``); a missing required key names itself (not a
    ``TypeError`` from deep inside); values are checked against the
    annotations (``"1e-3"`` becomes ``0.001`` for a float parameter).
    """
    params = accepted_params(factory, skip=skip, extra=extra)
    if params is None:
        return dict(kwargs)
    for key in kwargs:
        if key not in params:
            more = f" ({where} also takes {', '.join(also)})" if also else ""
            raise ConfigError(
                f"unknown key '{where}.{key}': expected one of {', '.join(sorted(params)) or '(none)'}{more}."
                f"{did_you_mean(key, sorted(params) + list(also))}"
            )
    missing = [n for n, p in params.items() if p.default is inspect.Parameter.empty and n not in kwargs]
    if missing:
        raise ConfigError(
            f"missing key '{where}.{missing[0]}': expected a value for {', '.join(missing)}, got none. "
            f"Add it, e.g. {{{', '.join(f'{n}: ...' for n in missing)}}} next to the name."
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
        params = _signature_params(factory)
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    skipped = {p.name for p in positional[:skip]} | set(extra or {})
    return {
        p.name: p
        for p in params
        if p.name not in skipped and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def _signature_params(factory: Callable[..., Any]) -> list[inspect.Parameter]:
    """``factory``'s parameters, without ``self``; TypeError or ValueError when it has no signature."""
    params = list(inspect.signature(factory).parameters.values())
    return params[1:] if params and params[0].name == "self" else params


def all_registries() -> dict[str, Registry[Any]]:
    """Every registry by its plural kind (``"activations"``, ``"encoders"``, ...)."""
    return dict(_ALL)


def load_plugins() -> bool:
    """Import every installed ``deepfeat.plugins`` entry point, once; True when this call loaded any.

    Called lazily, the first time a name is not found or the names are listed, so start-up stays fast.
    A plugin that fails to import is reported (ConfigError naming it and its package), not skipped silently.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return False
    _plugins_loaded = True
    from importlib.metadata import entry_points

    found = list(entry_points(group=PLUGIN_GROUP))
    for ep in found:
        try:
            ep.load()
        except Exception as e:  # noqa: BLE001 -- a third party's module: name it and the error
            package = ep.dist.name if ep.dist is not None else "?"
            raise ConfigError(f"deepfeat plugin '{ep.name}' ({ep.value}, from the package {package}) failed to "
                              f"import: {type(e).__name__}: {e}. Fix or uninstall that package.") from e
    return bool(found)
