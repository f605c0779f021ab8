"""What the command shows about deepfeat itself: the kinds of names (``deepfeat list``), the names of a kind, the
arguments of one name (``deepfeat list KIND NAME``) and every config key (``deepfeat fit --help-config``), derived
from the registries, the factories' signatures and docstrings, and the config schema (:mod:`deepfeat.schema`).

Naming the kinds needs no import of torch, so ``deepfeat list`` answers at once; the names and arguments of every
kind are kept in a cache file, so ``list KIND`` and ``list KIND NAME`` do too once it is written.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
from typing import Any, Iterator

from deepfeat.arguments import arguments, defaults, one_line, plain, type_text, yaml_text
from deepfeat.cli.kinds import find_kind, kind_name
from deepfeat.registry import Registry, all_registries, unknown_name

# Every kind (its registry's plural) -> (the modules whose import registers all its names, where they are used).
# tests/test_cli.py checks both against the registries that exist once everything is imported.
_NN = "deepfeat.nn"
KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "activations": ((_NN,), "encoder: {activation: gelu}"),
    "frontends": ((_NN,), "audio: waveform -> log-mel / MFCC inside the model: encoder: {name: audio, frontend: ...}"),
    "augmentations": (("deepfeat.data",), "the two views of self-supervised learners: learner: {augment: ...}"),
    "backbone sources": (("deepfeat.run",), "where encoder: {name: backbone, source: ...} gets its network"),
    "datasets": (("deepfeat.data",), "data: {name: ...}; `deepfeat datasets` shows which are here offline"),
    "data kinds": (("deepfeat.data",), "what samples are (vector, image, sequence, tokens, audio): kind= of arrays and files"),
    "decoders": (("deepfeat.nn.decoders",), "autoencoder decoders, built to mirror the encoder"),
    "encoders": ((_NN, "deepfeat.nn.backbones", "deepfeat.nn.discriminators"),
                 "encoder: {name: ...}: a batch -> (B, feature_dim) features"),
    "evaluations": (("deepfeat.run",), "feature protocols (evaluation.protocol, deepfeat evaluate --protocol) and what "
                                       "a learner's run evaluates after training; evaluation.settings.<name>"),
    "figures": (("deepfeat.run",), "plots a learner's run draws into plots/"),
    "initializers": ((_NN,), "encoder: {weight_init: ...}"),
    "integrations": (("deepfeat.run",), "outside services a run reports to: logging: {mlflow: true}"),
    "learners": (("deepfeat.learners",), "learner: {name: ...}: what is learned and how"),
    "noises": (("deepfeat.data.noise",), "corruptions: learner: {name: denoising, noise: ...}, deepfeat denoise --noise"),
    "norms": ((_NN,), "encoder: {norm: batch}"),
    "observers": (("deepfeat.run",), "per-epoch watchers a learner's run adds (warnings, sample grids)"),
    "optimizers": (("deepfeat.optim",), "optimizer: {name: ...}"),
    "previews": (("deepfeat.reports.previews",), "how the feature explorer (plots/explorer.html) shows a sample, per medium"),
    "regularizers": ((_NN,), "regularization: {name: ...}: weight penalties"),
    "schedulers": (("deepfeat.optim",), "schedule: {name: ...}: learning-rate schedules"),
    "searches": (("deepfeat.eval",), "exact nearest-neighbour searches of deepfeat neighbors (faiss when installed)"),
    "tokenizers": (("deepfeat.data.tokenize",), "text datasets: data: {tokenizer: ...}"),
}


def kinds_text() -> str:
    """The kinds, one per line, with where their names are used (no registry is imported)."""
    lines = ["kinds of registered names (`deepfeat list KIND` shows the names of one):"]
    for plural in sorted(KINDS, key=kind_name):
        also = f" (also: {plural})" if kind_name(plural) != plural else ""
        lines.append(f"  {kind_name(plural):<17} {KINDS[plural][1]}{also}")
    return "\n".join(lines)


def names_text(word: str, name: str | None = None) -> str:
    """The names of the kind ``word`` names (``schedules``, ``scheduler``, ...), with descriptions and aliases; with
    ``name``, the arguments of that one entry (:func:`entry_text`).

    Listing names means importing the modules that register them (torch with them: seconds). The listing of every
    kind is therefore kept in a cache file keyed by the installed source files and plugins, and read from there
    while nothing else was imported yet (after ``--import MODULE``, or with plugins installed, they are listed live).
    """
    plural = find_kind(word, tuple(KINDS))
    kind = _listings(plural)[plural]
    return kind["listing"] if name is None else _entry_text(kind, plural, name)


def _listings(plural: str) -> dict[str, dict[str, Any]]:
    """``{kind: {"listing", "kind", "entries", "aliases"}}`` from the cache, or live: all kinds, or just ``plural``."""
    fresh = "torch" not in sys.modules  # nothing registered in this process beyond what the cache knows
    cache = _cache_file() if fresh else None
    if cache is not None and cache.is_file():
        try:
            listing = json.loads(cache.read_text())
            if {"listing", "kind", "entries", "aliases"} <= listing[plural].keys():
                return listing
        except (OSError, ValueError, KeyError, AttributeError):
            pass  # a damaged or older cache: list live and write it again
    for module in KINDS[plural][0]:  # registers every name of this kind
        importlib.import_module(module)
    if cache is None:
        return {plural: kind_listing(plural)}
    listing = _everything()
    write_cache(cache, listing)
    return listing


def import_every_kind() -> None:
    """Import the modules that register every name of every kind."""
    for modules, _ in KINDS.values():
        for module in modules:
            importlib.import_module(module)


def _everything() -> dict[str, Any]:
    """What the cache keeps: every kind's :func:`kind_listing` and the :func:`config_schema` (every registry imported)."""
    import_every_kind()
    return {**{kind: kind_listing(kind) for kind in KINDS}, CONFIG_KEY: config_schema()}


def remember_names() -> None:
    """Write the names cache if it is missing, so that the next command that reads a config checks its keys and
    names before torch is imported (:mod:`deepfeat.cli.precheck`)."""
    cache = _cache_file()
    if cache is not None and not cache.is_file():
        write_cache(cache, _everything())


def cached_names() -> dict[str, Any] | None:
    """The names cache as written (kinds, their entries' parameters, the config's schema), read without importing
    any registry; None when there is none (not written yet, or plugins installed) or it cannot be read."""
    cache = _cache_file()
    try:
        return json.loads(cache.read_text()) if cache is not None and cache.is_file() else None
    except (OSError, ValueError):
        return None


CONFIG_KEY = "config schema"  # the cache's entry for config_schema(), beside the kinds


def config_schema() -> dict[str, Any]:
    """What a config may hold, for checks that import nothing: the top-level keys, each section's keys, and for
    each ``{name: ...}`` section the kind of name it takes, the keys it reads besides the factory's arguments
    (``data.val_fraction``) and former keys that still load (``data.train_classes``, :mod:`deepfeat.migrations`);
    the range of every bounded key, with its words."""
    from deepfeat.config import SECTION_KEYS, SPECS, Config, fixed_sections
    from deepfeat.migrations import former_keys
    from deepfeat.schema import keys, range_text

    kinds = {id(registry): plural for plural, registry in all_registries().items()}
    former, sections = former_keys(), fixed_sections()
    return {"top": [k.name for k in keys(Config)],
            "sections": {name: [k.name for k in keys(cls)] + former.get(name, []) for name, cls in sections.items()},
            "specs": {section: {"kind": kinds[id(registry)], "also": [k.name for k in keys(SECTION_KEYS[section])]
                                if section in SECTION_KEYS else [], "former": former.get(section, [])}
                      for section, registry in SPECS.items()},
            "ranges": {f"{name}.{k.name}": {"bounds": k.bounds, "expected": range_text(k)}
                       for name, cls in {**sections, **SECTION_KEYS}.items() for k in keys(cls) if k.bounds}}


def write_cache(cache: Any, listing: dict[str, dict[str, Any]]) -> None:
    """Write ``listing`` (every kind's :func:`kind_listing`) to the cache file ``cache`` whole, or not at all."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(listing))
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only home: list live every time


def kind_listing(plural: str) -> dict[str, Any]:
    """One kind as the cache keeps it: the listing text, and each entry's text (:func:`entry_text`) by name."""
    registry = all_registries()[plural]
    lines = [f"{kind_name(plural)}:"]
    for e in registry.entries():
        alias = f" (alias {', '.join(e.aliases)})" if e.aliases else ""
        lines.append(f"  {e.name:<20} {e.description}{alias}")
    return {"listing": "\n".join(lines), "kind": registry.kind,
            "entries": {n: entry_text(registry, n) for n in registry.names()},
            "aliases": registry.aliases(), "params": {n: _params(registry, n) for n in registry.names()}}


def _params(registry: Registry[Any], name: str) -> dict[str, list[str]] | None:
    """The arguments a user may set on ``name`` and those of them it requires; None when it takes ``**kwargs``."""
    params = registry.params(name)
    if params is None:
        return None
    return {"takes": list(params), "required": [n for n, p in params.items() if p.default is inspect.Parameter.empty]}


def _entry_text(kind: dict[str, Any], plural: str, name: str) -> str:
    key = name.lower()
    canonical = key if key in kind["entries"] else kind["aliases"].get(key)
    if canonical is None:
        raise unknown_name(kind["kind"], name, sorted(kind["entries"]), sorted(kind["aliases"]),
                           f"deepfeat list {kind_name(plural)}")
    return kind["entries"][canonical]


def entry_text(registry: Registry[Any], name: str) -> str:
    """``deepfeat list KIND NAME``: what the entry is, then each argument a user may set with its type, default
    and meaning, all read from the factory's signature and docstrings (:mod:`deepfeat.arguments`)."""
    entry = next(e for e in registry.entries() if e.name == registry.canonical(name))
    lines = [f"{registry.kind} '{entry.name}': {one_line(entry.description)}".rstrip(": ")]
    if entry.aliases:
        lines.append(f"aliases: {', '.join(entry.aliases)}")
    params = registry.params(entry.name)
    if params is None:
        return "\n".join([*lines, "arguments: any keyword arguments (its factory takes **kwargs)"])
    rows = arguments(entry.factory, params)
    if not rows:
        return "\n".join([*lines, "arguments: none"])
    lines.append("arguments (name, type, default, meaning):")
    width = max(len(r.name) for r in rows)
    types_ = min(max(len(r.type) for r in rows), 28)
    default = min(max(len(r.default) for r in rows), 20)
    lines += [f"  {r.name:<{width}}  {r.type:<{types_}}  {r.default:<{default}}  {r.meaning}".rstrip() for r in rows]
    return "\n".join(lines)


def _cache_file() -> Any:
    """``~/.cache/deepfeat/names-<key>.json``, the key a hash of every installed deepfeat source file (path, size,
    time), so any change lists live again; None (no cache) when plugins are installed."""
    import hashlib
    from importlib.metadata import entry_points
    from pathlib import Path

    import deepfeat
    from deepfeat.registry import PLUGIN_GROUP

    root = Path(deepfeat.__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns};".encode())
    if entry_points(group=PLUGIN_GROUP):  # a plugin's names can change with its code: list live
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "deepfeat"
    return base / f"names-{h.hexdigest()[:16]}.json"


def config_keys(config: Any = None) -> Iterator[tuple[str, str, str, str]]:
    """``(dotted key, type, default, help)`` for every key of ``config`` (default: the default config), as the schema
    declares it (:mod:`deepfeat.schema`): the top level, each ``{name: ...}`` section followed by the keys it reads
    besides its name's arguments and the arguments of the name it chooses, then each fixed section."""
    from deepfeat.config import SECTION_KEYS, SPECS, Config, fixed_sections
    from deepfeat.schema import keys

    config = config or Config()
    sections = fixed_sections()
    for k in keys(Config):
        if k.name in sections:
            continue
        typ = "{name: ..., ...}" if k.name in SPECS else type_text(k.annotation)
        yield k.name, typ, yaml_text(plain(k.default)), _help(k)
        if k.name in SECTION_KEYS:
            yield from (_row(k.name, own) for own in keys(SECTION_KEYS[k.name]))
        if k.name in SPECS:
            yield from _chosen_arguments(k.name, SPECS[k.name], getattr(config, k.name)["name"])
    for name, cls in sections.items():
        yield from (_row(name, own) for own in keys(cls))


def _row(section: str, k: Any) -> tuple[str, str, str, str]:
    return f"{section}.{k.name}", type_text(k.annotation), yaml_text(plain(k.default)), _help(k)


def _help(k: Any) -> str:
    """A key's help, with the version it appeared in when that is after the first release."""
    from deepfeat.schema import FIRST_RELEASE

    return k.help if k.since == FIRST_RELEASE else f"{k.help} (since {k.since})"


def _chosen_arguments(section: str, registry: Registry[Any], name: str) -> Iterator[tuple[str, str, str, str]]:
    """The rows of the arguments of the entry ``name`` that the section ``section`` chooses."""
    plural = next(p for p, r in all_registries().items() if r is registry)
    where = f"{name} (deepfeat list {kind_name(plural)} {name})"
    for arg in arguments(registry.get(name), registry.params(name) or {}):
        yield f"{section}.{arg.name}", arg.type, arg.default, arg.meaning or f"an argument of {where}"


def config_keys_text(config: Any = None) -> str:
    """``deepfeat fit --help-config``: the top-level keys with the arguments of the names ``config`` (default: the
    default config) chooses, then each section under its docstring's first line."""
    from deepfeat.config import SPECS, Config, fixed_sections

    config, sections = config or Config(), fixed_sections()
    chosen = ", ".join(f"{s}: {getattr(config, s)['name']}" for s in SPECS)
    lines = ["Config keys (YAML; any one can be set with --set KEY=VALUE). Sections written {name: ..., ...} take a",
             "registered name and that name's arguments; unknown keys are refused with the valid ones. The arguments",
             f"shown are those of the names chosen ({chosen}); -c CONFIG shows those its names take.", "",
             "top level:"]
    section = ""
    for key, typ, default, help_ in config_keys(config):
        top = key.split(".")[0]
        if top in sections and top != section:
            section = top
            doc = (inspect.getdoc(sections[top]) or "").splitlines()
            lines += ["", f"{top}: {doc[0].replace('``', '')}" if doc else f"{top}:"]
        lines.append(f"  {key:<30} {typ:<28} {default:<20} {_sentence(help_)}")
    return "\n".join(lines)


def resolved_config(config: Any) -> dict[str, Any]:
    """``deepfeat fit --print-config``: the config as plain data, each ``{name: ...}`` section with every argument of
    its name, the defaults filled in (a default YAML cannot hold, such as an object, is left out; tuples are lists)."""
    from deepfeat.config import SPECS

    resolved = config.to_dict()
    for section, registry in SPECS.items():
        given = resolved[section]
        filled = defaults(registry.params(given["name"]) or {})
        resolved[section] = plain({"name": given["name"], **filled, **given})
    return resolved


def _sentence(text: str) -> str:
    """A docstring's or comment's first line as a help phrase: no RST quotes, no capital or period at the ends."""
    text = text.splitlines()[0].replace("``", "") if text else ""
    return (text[:1].lower() + text[1:]).removesuffix(".")
