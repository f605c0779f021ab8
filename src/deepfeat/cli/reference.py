"""What the command shows about deepfeat itself: the kinds of names (``deepfeat list``), the names of a kind, the
arguments of one name (``deepfeat list KIND NAME``) and every config key (``deepfeat fit --help-config``), derived
from the registries, the factories' signatures and docstrings, and the config dataclasses.

Naming the kinds needs no import of torch, so ``deepfeat list`` answers at once; the names and arguments of every
kind are kept in a cache file, so ``list KIND`` and ``list KIND NAME`` do too once it is written.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import re
import sys
from typing import Any, Iterator

from deepfeat.arguments import arguments, comments_by_name, defaults, one_line, plain, type_text, yaml_text
from deepfeat.cli.kinds import find_kind, kind_name
from deepfeat.registry import Registry, all_registries, unknown_name

# Every kind (its registry's plural) -> (the modules whose import registers all its names, where they are used).
# tests/test_cli.py checks both against the registries that exist once everything is imported.
_NN = "deepfeat.nn"
KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "activations": ((_NN,), "encoder: {activation: gelu}"),
    "frontends": ((_NN,), "audio: waveform -> log-mel / MFCC inside the model: encoder: {name: audio, frontend: ...}"),
    "augmentations": (("deepfeat.data",), "the two views of self-supervised learners (learner: {augment: ...}) and training batches (data: {augment: ...})"),
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


def _everything() -> dict[str, Any]:
    """What the cache keeps: every kind's :func:`kind_listing` and the :func:`config_schema` (every registry imported)."""
    for modules, _ in KINDS.values():
        for module in modules:
            importlib.import_module(module)
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
# Keys of a section that old configs hold and loading still folds into others (evaluation.linear_probe).
_FORMER_SECTION_KEYS = {"evaluation": ["linear_probe"]}


def config_schema() -> dict[str, Any]:
    """What a config may hold, for checks that import nothing: the top-level keys, each section's keys, and for
    each ``{name: ...}`` section the kind of name it takes, the keys it reads besides the factory's arguments
    (``data.val_fraction``) and former keys that still load (``data.train_classes``)."""
    from deepfeat.config import MOVED_TO_EVALUATION, RENAMED_DATA_KEYS, SECTION_KEYS, SPECS, Config

    config = Config()
    kinds = {id(registry): plural for plural, registry in all_registries().items()}
    former = {"data": list(RENAMED_DATA_KEYS), "learner": list(MOVED_TO_EVALUATION)}
    return {"top": [f.name for f in dataclasses.fields(Config)],
            "sections": {f.name: [g.name for g in dataclasses.fields(getattr(config, f.name))]
                         + _FORMER_SECTION_KEYS.get(f.name, [])
                         for f in dataclasses.fields(Config) if dataclasses.is_dataclass(getattr(config, f.name))},
            "specs": {section: {"kind": kinds[id(registry)], "also": list(SECTION_KEYS.get(section, {})),
                                "former": former.get(section, [])} for section, registry in SPECS.items()}}


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


# One line of help for the keys whose definition carries no comment (a comment next to a field is used first).
KEY_HELP: dict[str, str] = {
    "data": "the dataset by name, with its arguments (deepfeat list datasets)",
    "data.val_fraction": "share of the data held out for validation; null (default): 10% when that is >= 30 samples, else none (all data trains, the last epoch is kept)",
    "data.test_fraction": "share of the data held out for testing",
    "data.normalize": "standardize inputs with statistics of the training split only",
    "data.classes": "keep only these classes (names or indices) in train, val and test, renumbered 0..K-1; null: all",
    "data.normal_classes": "one-class setup: train and validate on these classes only, test on all (formerly train_classes)",
    "data.score_heldout": "one-class setup: move the other classes' train/val samples into test, so all are scored",
    "data.augment": "augment training batches on the training device, batched: auto (the data kind's label-preserving one), an augmentation spec ({name: image, ...}, deepfeat list augmentations) or null: none",
    "encoder": "the network mapping a batch to (B, feature_dim) features, with its arguments (deepfeat list encoders)",
    "learner": "what is learned and how: classifier, autoencoder, vae, simclr, ... (deepfeat list learners)",
    "optimizer": "the optimizer with its hyperparameters, e.g. {name: adamw, lr: 1e-3} (deepfeat list optimizers)",
    "optimizer.layer_decay": "layer-wise learning rates: each layer further from the head gets lr x this; null: off",
    "schedule": "the learning-rate schedule; every one takes warmup_epochs (deepfeat list schedules)",
    "regularization": "a weight penalty on weights, never biases or norms (deepfeat list regularizers)",
    "seed": "seeds every random draw: splits, initialization, batch order, noise",
    "name": "names the run folder runs/<name>-<time>; null: <dataset>-<learner>",
    "training.epochs": "passes over the training split; null (auto): about 3,000 steps, 10 to 500 epochs",
    "training.batch_size": "samples per training step (per process under torchrun); null (auto): min(128, train samples)",
    "training.eval_batch_size": "samples per batch when validating, testing and embedding",
    "training.grad_clip": "clip the gradients' global norm to this; null: no clipping",
    "training.device": "auto (a GPU when one is visible, else cpu), cpu, cuda or cuda:N",
    "training.precision": "auto chooses per device and model (recorded in results.json); the others force one",
    "training.channels_last": "channels-last memory layout for image batches; auto: where it pays (bf16 conv nets)",
    "training.monitor": "the metric that picks the best epoch and drives early stopping, e.g. val/acc",
    "training.mode": "whether monitor is better lower (min) or higher (max)",
    "training.restore_best": "end with the best epoch's weights rather than the last epoch's",
    "training.patience": "stop after this many epochs without improvement of monitor; null: never stop early",
    "training.min_delta": "smallest change of monitor that counts as an improvement",
    "training.max_nonfinite": "fail after this many consecutive steps with a non-finite loss (each is skipped)",
    "training.checkpoint_every": "write checkpoints/last.pt every this many epochs",
    "training.checkpoint_steps": "also write checkpoints/last.pt every this many steps within an epoch (null: off), "
                                 "so a resume goes on at the exact sample",
    "training.max_steps": "stop after this many updates in all (null: no limit); schedules span the steps the run takes",
    "training.length_buckets": "token data: batches of similar-length texts, sorted within chunks of this many batches "
                               "(0: off); the text encoders then compute only up to each batch's longest text",
    "training.progress": "auto: a progress bar on a terminal, one line per epoch otherwise",
    "training.threads": "torch CPU threads; null: torch's default",
    "evaluation.max_samples": "at most this many samples of a split are evaluated and plotted",
    "evaluation.embedding_plots": "2-D maps of the features drawn after training",
    "logging.plots": "draw plots/*.png after training",
    "logging.report": "write report.html after training",
    "logging.tensorboard": "also log the metrics for TensorBoard (the tensorboard extra)",
    "diagnostics.enabled": "record per-layer statistics while training and give verdicts with remedies",
    "diagnostics.every_n_steps": "sample the layer statistics every this many steps",
    "diagnostics.preflight": "check the initial model on one batch before training",
    "diagnostics.dead_share": "report a layer when this share of its ReLU units is dead",
    "diagnostics.saturated_share": "report a layer when this share of its tanh/sigmoid units is saturated",
    "diagnostics.vanishing_ratio": "first/last layer gradient-norm ratio below which gradients are reported vanishing",
    "diagnostics.exploding_ratio": "first/last layer gradient-norm ratio above which gradients are reported exploding",
    "diagnostics.signal_ratio": "last/first layer spread of activations below which the signal is reported lost",
    "diagnostics.update_ratio": "update/weight norm ratio above which steps are reported too large",
    "diagnostics.spike_factor": "a loss this many times its running median is reported as a spike",
    "diagnostics.overfit_rise": "validation loss this fraction above its best while training loss falls: overfitting",
    "compare.grid": "dotted key -> values to try, e.g. {optimizer.lr: [0.1, 0.01]}",
    "compare.variants": "named sets of dotted overrides, e.g. {l2: {regularization: {name: l2}}}",
    "compare.seeds": "runs per combination (seeds seed, seed+1, ...)",
}


def config_keys(config: Any = None) -> Iterator[tuple[str, str, str, str]]:
    """``(dotted key, type, default, help)`` for every key of ``config`` (default: the default config): the top level,
    each ``{name: ...}`` section followed by the arguments of the name it chooses, then each fixed section."""
    from deepfeat.config import DATA_SPLIT_KEYS, SPECS, Config
    from deepfeat.data.bundle import LoadOptions
    from deepfeat.typecheck import hints

    config = config or Config()
    defaults, comments = Config(), comments_by_name(inspect.getsource(Config), _FIELD)
    fields = dataclasses.fields(Config)
    for f in [f for f in fields if not dataclasses.is_dataclass(getattr(defaults, f.name))]:
        value = getattr(defaults, f.name)
        typ = "{name: ..., ...}" if isinstance(value, dict) else type_text(hints(Config)[f.name])
        yield f.name, typ, yaml_text(value), comments.get(f.name) or KEY_HELP[f.name]
        if f.name == "data":
            split = {o.name: o.default for o in dataclasses.fields(LoadOptions)}
            for key, annotation in DATA_SPLIT_KEYS.items():
                yield f"data.{key}", type_text(annotation), yaml_text(split.get(key)), KEY_HELP[f"data.{key}"]
        if f.name == "optimizer":
            yield "optimizer.layer_decay", "float | None", "null", KEY_HELP["optimizer.layer_decay"]
        if f.name in SPECS:
            yield from _chosen_arguments(f.name, SPECS[f.name], getattr(config, f.name)["name"])
    for f in [f for f in fields if dataclasses.is_dataclass(getattr(defaults, f.name))]:
        section = getattr(defaults, f.name)
        section_comments = comments_by_name(inspect.getsource(type(section)), _FIELD)
        section_hints = hints(type(section))
        for g in dataclasses.fields(section):
            key = f"{f.name}.{g.name}"
            yield (key, type_text(section_hints[g.name]), yaml_text(getattr(section, g.name)),
                   section_comments.get(g.name) or KEY_HELP[key])


_FIELD = re.compile(r"    (\w+)\s*:")  # a dataclass field's line


def _chosen_arguments(section: str, registry: Registry[Any], name: str) -> Iterator[tuple[str, str, str, str]]:
    """The rows of the arguments of the entry ``name`` that the section ``section`` chooses."""
    plural = next(p for p, r in all_registries().items() if r is registry)
    where = f"{name} (deepfeat list {kind_name(plural)} {name})"
    for arg in arguments(registry.get(name), registry.params(name) or {}):
        yield f"{section}.{arg.name}", arg.type, arg.default, arg.meaning or f"an argument of {where}"


def config_keys_text(config: Any = None) -> str:
    """``deepfeat fit --help-config``: the top-level keys with the arguments of the names ``config`` (default: the
    default config) chooses, then each section under its docstring's first line."""
    from deepfeat.config import SPECS, Config

    config = config or Config()
    chosen = ", ".join(f"{s}: {getattr(config, s)['name']}" for s in SPECS)
    lines = ["Config keys (YAML; any one can be set with --set KEY=VALUE). Sections written {name: ..., ...} take a",
             "registered name and that name's arguments; unknown keys are refused with the valid ones. The arguments",
             f"shown are those of the names chosen ({chosen}); -c CONFIG shows those its names take.", "",
             "top level:"]
    section = ""
    for key, typ, default, help_ in config_keys(config):
        top = key.split(".")[0]
        value = getattr(Config(), top)
        if dataclasses.is_dataclass(value) and top != section:
            section = top
            doc = (inspect.getdoc(type(value)) or "").splitlines()
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
