"""The ``deepfeat`` command line: the parser, the one-line errors and the exit codes.

Only the standard library is imported here: a subcommand imports what it needs when it runs, so
``deepfeat --help`` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable

from deepfeat.cli import commands as cmd

EXAMPLES = {
    "fit": "deepfeat fit -c examples/configs/digits_mlp.yaml --set training.epochs=5 --out runs/mlp",
    "resume": "deepfeat resume runs/mlp",
    "evaluate": "deepfeat evaluate runs/mlp --protocol linear,knn,cluster,fewshot,health",
    "embed": "deepfeat embed runs/mlp --data digits --out features.npy",
    "predict": "deepfeat predict runs/pets --data new_photos/ --out answers.csv",
    "report": "deepfeat report runs/mlp",
    "index": "deepfeat index runs/mlp --data digits",
    "neighbors": "deepfeat neighbors runs/mlp --query new_digits.npy --k 10 --out neighbors.csv",
    "export": "deepfeat export runs/mlp --format onnx",
    "list": "deepfeat list datasets image_folder",
    "datasets": "deepfeat datasets",
    "config": "deepfeat config check -c examples/configs/digits_mlp.yaml",
    "denoise": "deepfeat denoise runs/dae --data digits --noise '{name: gaussian, sigma: 0.5}' --out denoised.png",
    "score": "deepfeat score runs/ae --data digits --out scores.csv --quantile 0.99",
    "sample": "deepfeat sample runs/vae --n 64 --out samples.png",
    "diagnose": "deepfeat diagnose -c examples/configs/digits_mlp.yaml --set optimizer.lr=0.3",
    "lr-find": "deepfeat lr-find -c examples/configs/digits_mlp.yaml",
    "compare": "deepfeat compare -c examples/configs/compare_optimizers.yaml --seeds 2 --out runs/optimizers",
    "pack": "deepfeat pack photos/ --out photos-shards",
    "tune": "deepfeat tune examples/configs/digits_mlp.yaml --space examples/spaces/digits_mlp.yaml --trials 20 --seed 0",
    "examples": "deepfeat examples copy digits_mlp --to my_configs",
}

SET_HELP = "override a config value by its dotted key (the value is YAML), repeatable"


class _Version(argparse.Action):
    """``--version``: the installed package's version (its metadata, as pip sees it) and torch's."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the versions of deepfeat and torch, and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(version_text())
        parser.exit()


def version_text() -> str:
    """``deepfeat 0.1.0 (torch 2.6.0, Python 3.11.7)``, read from the installed packages' metadata."""
    from importlib import metadata

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return f"deepfeat {version('deepfeat')} (torch {version('torch')}, Python {sys.version.split()[0]})"


def _add_config(p: argparse.ArgumentParser, help_: str = "YAML config file") -> None:
    """The one shape of every subcommand that reads a config: ``-c CONFIG`` or ``CONFIG``, with ``--set``."""
    p.add_argument("config_path", nargs="?", metavar="CONFIG", help=f"{help_} (the same as -c CONFIG)")
    p.add_argument("-c", "--config", metavar="CONFIG", help=help_)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)


def _take_config(a: argparse.Namespace) -> None:
    """Merge ``-c CONFIG`` and the positional ``CONFIG`` into ``a.config``; a ConfigError when none or two differ."""
    from deepfeat.errors import ConfigError

    given = [c for c in (a.config, a.config_path) if c is not None]
    if len(set(given)) > 1:
        raise ConfigError(f"config at deepfeat {a.command}: expected one file, got {given[0]} and {given[1]}. "
                          f"Give it once, as -c CONFIG or as CONFIG.")
    if not given and not getattr(a, "help_config", False) and getattr(a, "data", None) is None:
        raise ConfigError(f"config at deepfeat {a.command}: expected a YAML file, got none. "
                          f"Give one: deepfeat {a.command} -c CONFIG (see deepfeat {a.command} --help).")
    a.config = given[0] if given else None
    if a.config is not None:  # a missing or malformed file is one line at once, before the library (and torch) loads
        from deepfeat.yaml_file import read_yaml

        raw = read_yaml(Path(a.config))
        # Keys and names against the names cache, unless this process may hold names the cache does not know (torch
        # imported: something registered in Python) or the config is not the file alone (overrides, imports).
        if not a.set and not a.imports and "torch" not in sys.modules:
            from deepfeat.cli.precheck import precheck

            precheck(raw)


DATA_HELP = ("new data: a folder or file (read like the run's own data, with its settings), a dataset name, or a "
             "spec as YAML, e.g. \"{name: image_folder, root: imgs}\"")


def _add_apply(p: argparse.ArgumentParser, out_help: str, required: bool = True) -> None:
    """The one shape of every subcommand that applies a run to new data: ``RUN --data DATA --out FILE``."""
    p.add_argument("run", help="run folder")
    p.add_argument("--data", required=True, help=DATA_HELP)
    p.add_argument("--out", required=required, help=out_help)
    p.add_argument("--batch-size", type=int, default=1024, help="samples per batch (default 1024)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepfeat", description="Deep feature learning: train, evaluate, inspect and reuse learned features.",
                                     epilog="example:\n  deepfeat fit -c examples/configs/digits_mlp.yaml\n\n"
                                            "deepfeat COMMAND --help shows a command's options and an example.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_Version)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import MODULE (a name, found from this folder too, or a .py file) first, so the "
                             "encoders, learners and datasets it registers can be named in configs; repeatable")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, epilog=f"example:\n  {EXAMPLES[name]}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(fn=fn)
        return p

    p = add("fit", cmd.cmd_fit, "train a feature learner from a YAML config")
    _add_config(p)
    p.add_argument("--out", help="run folder to create (default: runs/<name>-<time>)")
    p.add_argument("--data", help="train on this instead of the config's data (the config optional): a folder or file, "
                                  "a dataset name, or a spec as YAML, e.g. \"{name: image_folder, root: imgs}\"")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved config, every argument of the names it chooses filled in, and exit")
    p.add_argument("--help-config", action="store_true",
                   help="print every config key with its type, default and meaning, the arguments of the data, encoder, "
                        "learner, optimizer and schedule that CONFIG (else the default config) chooses included, and exit")
    p = add("resume", cmd.cmd_resume, "continue an interrupted run from its last checkpoint")
    p.add_argument("run", help="run folder")
    p = add("evaluate", cmd.cmd_evaluate, "evaluate a run's features (probes, kNN, clustering, few labels, health) and update results.json")
    p.add_argument("run", help="run folder")
    p.add_argument("--data", help="dataset name or file (default: the run's own data)")
    p.add_argument("--protocol", metavar="NAMES",
                   help="comma-separated evaluators: linear, knn, cluster, fewshot, health (default: the config's "
                        "evaluation.protocol, linear,knn)")
    p = add("embed", cmd.cmd_embed, "write the features of new data to .csv, .parquet or .npy, streaming batches")
    _add_apply(p, "output: .csv or .parquet (id, f0, f1, ...) or .npy (features; ids in NAME.ids.txt)")
    p = add("predict", cmd.cmd_predict, "class names and probabilities of a classifier run for new data")
    _add_apply(p, "output: .csv or .parquet (id, label, p_<class>...) or .npy (probabilities; ids in NAME.ids.txt); "
                  "default: print id,label,probability", required=False)
    p = add("index", cmd.cmd_index, "embed a collection with a run's model and save it as the run's search index")
    p.add_argument("run", help="run folder")
    p.add_argument("--data", required=True, help=DATA_HELP)
    p.add_argument("--metric", choices=["cosine", "euclidean"], help="distance (default: the learner's own)")
    p.add_argument("--batch-size", type=int, default=1024, help="samples per batch (default 1024)")
    p = add("neighbors", cmd.cmd_neighbors, "the nearest items of a run's index to each query sample, with distances")
    p.add_argument("run", help="run folder (with an index: deepfeat index)")
    p.add_argument("--query", required=True, help=DATA_HELP)
    p.add_argument("--k", type=int, default=10, help="neighbours per query (default 10)")
    p.add_argument("--out", help="also write them to .csv or .parquet (id, neighbor_i, distance_i[, label_i])")
    p.add_argument("--batch-size", type=int, default=1024, help="samples per batch (default 1024)")
    p = add("report", cmd.cmd_report, "rebuild a run's plots and report.html")
    p.add_argument("run", help="run folder")
    p = add("export", cmd.cmd_export, "export a run's model as safetensors (+JSON) or ONNX")
    p.add_argument("run", help="run folder")
    p.add_argument("--format", choices=["safetensors", "onnx"], default="safetensors",
                   help="safetensors weights + JSON architecture (default), or an ONNX graph from raw input to features")
    p.add_argument("--out", help="output folder (safetensors) or file (onnx)")
    p = add("list", cmd.cmd_list, "list the kinds of registered names, the names of one kind, or the arguments of one name")
    p.add_argument("kind", nargs="?", help="one kind, e.g. encoders, schedules, evaluations (default: list the kinds)")
    p.add_argument("name", nargs="?", help="one name of that kind, e.g. image_folder: its arguments with their type, "
                                           "default and meaning")
    add("datasets", cmd.cmd_datasets, "which datasets are available offline here, and where they were found")
    p = add("pack", cmd.cmd_pack, "write any data source as shards with a manifest, for data: {name: shards, root: DIR}")
    p.add_argument("source", help="the data to pack: a folder or file, a dataset name, or a spec as inline YAML "
                                   "(\"{name: image_folder, root: photos, size: 64}\")")
    p.add_argument("--out", required=True, help="folder to write the shards and manifest.json into (new or empty)")
    p.add_argument("--shard-rows", type=int, default=4096, help="samples per shard file (default 4096)")
    p = add("denoise", cmd.cmd_denoise, "denoise new data with a trained (denoising) autoencoder")
    _add_apply(p, "output: .npy (ids in NAME.ids.txt), or .png for a grid of the first 64 images")
    p.add_argument("--noise", help="corrupt the data first with this noise spec (YAML), e.g. gaussian")
    p.add_argument("--seed", type=int, default=0, help="seed of the --noise draw")
    p = add("score", cmd.cmd_score, "anomaly scores and 0/1 decisions of an autoencoder/VAE run for new data")
    _add_apply(p, "output: .csv or .parquet (id, score, anomaly[, label]) or .npy (scores; ids in NAME.ids.txt); "
                  "for a run trained on windows, .csv (score,anomaly[,label]) or .npy per time point, and --data is "
                  "one long series file (.npy (T,)/(C,T), .npz x[,y], .csv one column per channel[,label])")
    p.add_argument("--reduce", choices=["mean", "max"], help="windows run: a point's score is the mean (default) or "
                   "max of the scores of the windows covering it")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--quantile", type=float, help="re-calibrate: threshold = this quantile of clean validation scores")
    how.add_argument("--contamination", type=float, help="re-calibrate: expected fraction of anomalies")
    p = add("sample", cmd.cmd_sample, "draw samples from a trained VAE (its prior) or GAN (its generator)")
    p.add_argument("run", help="run folder")
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--out", required=True, help="output: .npy, or .png for a grid of images")
    p.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")
    p = add("config", cmd.cmd_config, "check a config as fit would, without training; or write the config's JSON Schema")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="every key and name, the data against its files, the learner, and the "
                               "extras its evaluations need; trains nothing")
    _add_config(check)
    schema = actions.add_parser("schema", help="the JSON Schema (draft 2020-12) of a config, every key and registered "
                                "name with its arguments, for editors to complete and check YAML")
    schema.add_argument("--out", metavar="FILE", help="write it to FILE (default: print it)")
    schema.set_defaults(fn=cmd.cmd_config_schema)
    p = add("diagnose", cmd.cmd_diagnose, "a short run with diagnostics on: verdicts with remedies, and the report")
    _add_config(p)
    p.add_argument("--epochs", type=int, default=3, help="at most this many epochs (default 3)")
    p.add_argument("--out", help="run folder to create (default: runs/<name>-<time>)")
    p = add("lr-find", cmd.cmd_lr_find, "learning-rate range test (Smith 2017): the loss-vs-lr plot and a suggested lr")
    _add_config(p)
    p.add_argument("--steps", type=int, default=100, help="steps of the range test, lr growing geometrically (default 100)")
    p.add_argument("--min-lr", type=float, default=1e-7, help="the first step's learning rate (default 1e-7)")
    p.add_argument("--max-lr", type=float, default=10.0, help="the last step's learning rate (default 10)")
    p.add_argument("--out", help="folder for lr_find.json and the plot (default: runs/<name>-lr-find-<time>)")
    p = add("compare", cmd.cmd_compare, "run every combination of a grid x seeds, then one table and one report")
    _add_config(p, "YAML config file (its compare: section may hold the grid)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2", help="values to try for a dotted key, repeatable")
    p.add_argument("--seeds", type=int, help="runs per combination (seeds seed, seed+1, ...)")
    p.add_argument("--out", help="folder for the runs and the report (default: runs/<name>-compare-<time>)")
    p = add("tune", cmd.cmd_tune, "search hyperparameters with Optuna: each trial a run, chosen on validation data")
    _add_config(p)
    p.add_argument("--space", required=True, help="YAML of dotted config keys -> {low, high, log, step} or {choices: [...]}")
    p.add_argument("--trials", type=int, default=20, help="finished trials the study should reach (default 20); "
                                                          "running the command again continues the study")
    p.add_argument("--timeout", type=float, help="start no new trial after this many seconds")
    p.add_argument("--seed", type=int, help="seed of the TPE sampler (default: unseeded)")
    p.add_argument("--study", help="study name (default: <config name>-tune); the same name continues a study")
    p.add_argument("--storage", help="Optuna RDB URL shared by every process of the study (default: sqlite:///OUT/study.db)")
    p.add_argument("--pruner", choices=["median", "halving", "none"], default="median",
                   help="stop unpromising trials from their per-epoch validation metric (default: median)")
    p.add_argument("--out", help="folder of the study, its trials and outputs (default: runs/<study>)")
    p = add("examples", cmd.cmd_examples, "list the example configs that ship with deepfeat, or copy one out")
    p.add_argument("action", nargs="?", choices=["copy"], help="copy: write NAME.yaml into --to (default: list them)")
    p.add_argument("name", nargs="?", help="the example to copy, e.g. digits_mlp")
    p.add_argument("--to", default=".", help="folder to copy into (default: the current folder)")
    p.add_argument("--markdown", action="store_true", help="print the list as the Markdown table of examples/README.md")
    return parser


def _unknown_command(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """The one-line complaint about a mistyped command, with the close match (argparse lists all of them)."""
    import difflib

    commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    # The top-level options take no value but --import, so the first other word is the command.
    words = [w for i, w in enumerate(argv) if not w.startswith("-") and (i == 0 or argv[i - 1] != "--import")]
    word = words[0] if words else None
    if word is None or word in commands:
        return None
    close = difflib.get_close_matches(word, list(commands), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else f" Expected one of: {', '.join(commands)}."
    return f"unknown command '{word}'.{hint}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``deepfeat`` command; returns the exit code."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    unknown = _unknown_command(parser, argv)
    if unknown:
        print(f"error: {unknown}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    from deepfeat.errors import DeepfeatError

    try:
        if args.imports:
            from deepfeat.cli.user_modules import import_user_module

            for module in args.imports:
                import_user_module(module)
        if "config_path" in args:
            _take_config(args)
        return args.fn(args)
    except DeepfeatError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the last completed epoch is in checkpoints/last.pt (deepfeat resume RUN)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `deepfeat list | head`: the reader left; end quietly, as other Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
