"""What the command shows about deepfeat itself: the kinds of names (``deepfeat list``) and every config key
(``deepfeat fit --help-config``), derived from the registries and the config dataclasses.

Naming the kinds needs no import of torch, so ``deepfeat list`` answers at once; listing one kind imports
only the modules that register its names.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import io
import json
import os
import re
import sys
import tokenize
import types
import typing
from typing import Any, Iterator

from deepfeat.registry import all_registries, find_kind, kind_name

# Every kind (its registry's plural) -> (the modules whose import registers all its names, where they are used).
# tests/test_cli.py checks both against the registries that exist once everything is imported.
_NN = "deepfeat.nn"
KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "activations": ((_NN,), "encoder: {activation: gelu}"),
    "frontends": ((_NN,), "audio: waveform -> log-mel / MFCC inside the model: encoder: {name: audio, frontend: ...}"),
    "augmentations": (("deepfeat.data",), "the two views of self-supervised learners: learner: {augment: ...}"),
    "backbone sources": (("deepfeat.run",), "where encoder: {name: backbone, source: ...} gets its network"),
    "datasets": (("deepfeat.data",), "data: {name: ...}; `deepfeat datasets` shows which are here offline"),
    "decoders": (("deepfeat.nn.decoders",), "autoencoder decoders, built to mirror the encoder"),
    "encoders": ((_NN, "deepfeat.nn.backbones", "deepfeat.nn.discriminators"),
                 "encoder: {name: ...}: a batch -> (B, feature_dim) features"),
    "evaluations": (("deepfeat.run",), "what a learner's run evaluates after training; evaluation.settings.<name>"),
    "figures": (("deepfeat.run",), "plots a learner's run draws into plots/"),
    "initializers": ((_NN,), "encoder: {weight_init: ...}"),
    "integrations": (("deepfeat.run",), "outside services a run reports to: logging: {mlflow: true}"),
    "learners": (("deepfeat.learners",), "learner: {name: ...}: what is learned and how"),
    "metrics": (("deepfeat.eval",), "feature evaluators: evaluation.protocol, deepfeat evaluate --protocol"),
    "noises": (("deepfeat.data.noise",), "corruptions: learner: {name: denoising, noise: ...}, deepfeat denoise --noise"),
    "norms": ((_NN,), "encoder: {norm: batch}"),
    "observers": (("deepfeat.run",), "per-epoch watchers a learner's run adds (warnings, sample grids)"),
    "optimizers": (("deepfeat.optim",), "optimizer: {name: ...}"),
    "regularizers": ((_NN,), "regularization: {name: ...}: weight penalties"),
    "schedulers": (("deepfeat.optim",), "schedule: {name: ...}: learning-rate schedules"),
    "tokenizers": (("deepfeat.data.tokenize",), "text datasets: data: {tokenizer: ...}"),
}


def kinds_text() -> str:
    """The kinds, one per line, with where their names are used (no registry is imported)."""
    lines = ["kinds of registered names (`deepfeat list KIND` shows the names of one):"]
    for plural in sorted(KINDS, key=kind_name):
        also = f" (also: {plural})" if kind_name(plural) != plural else ""
        lines.append(f"  {kind_name(plural):<17} {KINDS[plural][1]}{also}")
    return "\n".join(lines)


def names_text(word: str) -> str:
    """The names of the kind ``word`` names (``schedules``, ``scheduler``, ...), with descriptions and aliases.

    Listing names means importing the modules that register them (torch with them: seconds). The listing of every
    kind is therefore kept in a cache file keyed by the installed source files and plugins, and read from there
    while nothing else was imported yet (after ``--import MODULE``, or with plugins installed, they are listed live).
    """
    plural = find_kind(word, tuple(KINDS))
    fresh = "torch" not in sys.modules  # nothing registered in this process beyond what the cache knows
    cache = _cache_file() if fresh else None
    if cache is not None and cache.is_file():
        try:
            return json.loads(cache.read_text())[plural]
        except (OSError, ValueError, KeyError):
            pass  # a damaged or older cache: list live and write it again
    for module in KINDS[plural][0]:  # registers every name of this kind
        importlib.import_module(module)
    if cache is None:
        return _listing(plural)
    for modules, _ in KINDS.values():
        for module in modules:
            importlib.import_module(module)
    listing = {kind: _listing(kind) for kind in KINDS}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(listing))
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only home: list live every time
    return listing[plural]


def _listing(plural: str) -> str:
    lines = [f"{kind_name(plural)}:"]
    for e in all_registries()[plural].entries():
        alias = f" (alias {', '.join(e.aliases)})" if e.aliases else ""
        lines.append(f"  {e.name:<20} {e.description}{alias}")
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
    "training.max_steps": "stop after this many updates in all (null: no limit); schedules span the steps the run takes",
    "training.length_buckets": "token data: batches of similar-length texts, sorted within chunks of this many batches "
                               "(0: off); the text encoders then compute only up to each batch's longest text",
    "training.progress": "auto: a progress bar on a terminal, one line per epoch otherwise",
    "training.threads": "torch CPU threads; null: torch's default",
    "evaluation.probe_C": "inverse regularization strength of the linear probe's logistic regression",
    "evaluation.knn_k": "the k values of the kNN evaluator",
    "evaluation.knn_metric": "the distance of the kNN evaluator",
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


def config_keys() -> Iterator[tuple[str, str, str, str]]:
    """``(dotted key, type, default, help)`` for every key of a config: the top level, then each section."""
    from deepfeat.config import DATA_SPLIT_KEYS, Config
    from deepfeat.data.bundle import LoadOptions
    from deepfeat.typecheck import hints

    defaults, comments = Config(), _field_comments(Config)
    fields = dataclasses.fields(Config)
    for f in [f for f in fields if not dataclasses.is_dataclass(getattr(defaults, f.name))]:
        value = getattr(defaults, f.name)
        typ = "{name: ..., ...}" if isinstance(value, dict) else type_text(hints(Config)[f.name])
        yield f.name, typ, yaml_text(value), comments.get(f.name) or KEY_HELP[f.name]
        if f.name == "data":
            split = {o.name: o.default for o in dataclasses.fields(LoadOptions)}
            for key, annotation in DATA_SPLIT_KEYS.items():
                yield f"data.{key}", type_text(annotation), yaml_text(split[key]), KEY_HELP[f"data.{key}"]
        if f.name == "optimizer":
            yield "optimizer.layer_decay", "float | None", "null", KEY_HELP["optimizer.layer_decay"]
    for f in [f for f in fields if dataclasses.is_dataclass(getattr(defaults, f.name))]:
        section = getattr(defaults, f.name)
        section_comments, section_hints = _field_comments(type(section)), hints(type(section))
        for g in dataclasses.fields(section):
            key = f"{f.name}.{g.name}"
            yield (key, type_text(section_hints[g.name]), yaml_text(getattr(section, g.name)),
                   section_comments.get(g.name) or KEY_HELP[key])


def config_keys_text() -> str:
    """``deepfeat fit --help-config``: the top-level keys, then each section under its docstring's first line."""
    from deepfeat.config import Config

    lines = ["Config keys (YAML; any one can be set with --set KEY=VALUE). Sections written {name: ..., ...} take a",
             "registered name and that name's arguments; unknown keys are refused with the valid ones.", "",
             "top level:"]
    section = ""
    for key, typ, default, help_ in config_keys():
        top = key.split(".")[0]
        value = getattr(Config(), top)
        if dataclasses.is_dataclass(value) and top != section:
            section = top
            doc = (inspect.getdoc(type(value)) or "").splitlines()
            lines += ["", f"{top}: {doc[0].replace('``', '')}" if doc else f"{top}:"]
        lines.append(f"  {key:<30} {typ:<28} {default:<20} {_sentence(help_)}")
    return "\n".join(lines)


def _sentence(text: str) -> str:
    """A docstring's or comment's first line as a help phrase: no RST quotes, no capital or period at the ends."""
    text = text.splitlines()[0].replace("``", "") if text else ""
    return (text[:1].lower() + text[1:]).removesuffix(".")


def type_text(annotation: Any) -> str:
    """``int``, ``float | None``, ``auto | fp32 | bf16``, ``list[pca | tsne | umap]`` for an annotation."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join("None" if a is type(None) else type_text(a) for a in args)
    if origin is not None and args:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(type_text(a) for a in args)}]"
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")


def yaml_text(value: Any) -> str:
    """A default as it would be written in YAML: ``null``, ``[5, 20]``, ``{name: digits}``."""
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).strip().removesuffix("\n...").strip()


def _field_comments(cls: type) -> dict[str, str]:
    """The comment on a dataclass field's line, or the comment lines right above it, by field name."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    lines = source.splitlines()
    found: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        field = re.match(r"    (\w+)\s*:", line)
        if not field:
            continue
        above, row = [], number - 1
        while row in comments and lines[row - 1].lstrip().startswith("#"):
            above.insert(0, comments[row])
            row -= 1
        text = comments.get(number) or " ".join(above)
        if text:
            found[field.group(1)] = text
    return found
