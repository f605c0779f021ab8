"""The ``deepfeat`` command: parse -> config -> one library call. Errors print one line and exit 2."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Callable

EXAMPLES = {
    "fit": "deepfeat fit -c examples/configs/digits_mlp.yaml --set training.epochs=5 --out runs/mlp",
    "resume": "deepfeat resume runs/mlp",
    "evaluate": "deepfeat evaluate runs/mlp --data digits",
    "embed": "deepfeat embed runs/mlp --data digits --out features.npy",
    "report": "deepfeat report runs/mlp",
    "export": "deepfeat export runs/mlp --format onnx",
    "list": "deepfeat list encoders",
    "datasets": "deepfeat datasets",
    "config": "deepfeat config check examples/configs/digits_mlp.yaml",
}


def _fit(a: argparse.Namespace) -> int:
    from deepfeat.api import fit
    from deepfeat.config import load_config

    cfg = load_config(a.config, a.set)
    if a.print_config:
        print(cfg.to_yaml(), end="")
        return 0
    run = fit(cfg, out=a.out)
    _print_summary(run.dir, run.results)
    return 0


def _print_summary(run_dir: Path, results: dict[str, Any]) -> None:
    test = results.get("test", {})
    parts = [f"{k} {v:.4f}" for k, v in test.items()]
    parts += [f"{name} {r['accuracy']:.4f}" for name, r in results.get("evaluations", {}).items() if "accuracy" in r]
    print(f"done: {'  '.join(parts)}")
    print(f"run folder: {run_dir}")
    print(f"report:     {run_dir / 'report.html'}")


def _resume(a: argparse.Namespace) -> int:
    from deepfeat.api import resume

    run = resume(a.run)
    _print_summary(run.dir, run.results)
    return 0


def _evaluate(a: argparse.Namespace) -> int:
    from deepfeat.api import evaluate

    results = evaluate(a.run, a.data)
    _print_summary(Path(a.run), results)
    return 0


def _embed(a: argparse.Namespace) -> int:
    from deepfeat.api import embed

    print(f"features written to {embed(a.run, a.data, a.out, a.batch_size)}")
    return 0


def _report(a: argparse.Namespace) -> int:
    from deepfeat.api import report

    print(f"report: {report(a.run)}")
    return 0


def _export(a: argparse.Namespace) -> int:
    from deepfeat.api import export

    print(f"exported: {export(a.run, a.format, a.out)}")
    return 0


def _list(a: argparse.Namespace) -> int:
    import deepfeat  # noqa: F401  (registers everything)
    from deepfeat.registry import all_registries, did_you_mean
    from deepfeat.errors import ConfigError

    registries = all_registries()
    if a.kind and a.kind not in registries:
        kinds = sorted(registries)
        raise ConfigError(f"unknown kind '{a.kind}': expected one of {', '.join(kinds)}.{did_you_mean(a.kind, kinds)}")
    for kind in [a.kind] if a.kind else sorted(registries):
        print(f"{kind}:")
        for e in registries[kind].entries():
            alias = f" (alias {', '.join(e.aliases)})" if e.aliases else ""
            print(f"  {e.name:<20} {e.description}{alias}")
    return 0


def _datasets(a: argparse.Namespace) -> int:
    from deepfeat.data.datasets import available_datasets

    for row in available_datasets():
        mark = "yes" if row["available"] else "no "
        print(f"  {row['name']:<15} {mark}  {row['where']}")
    return 0


def _config_check(a: argparse.Namespace) -> int:
    from deepfeat.config import load_config

    load_config(a.config, a.set)
    print(f"{a.config}: ok")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepfeat", description="Deep feature learning: train, evaluate, inspect and reuse learned features.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, epilog=f"example:\n  {EXAMPLES[name]}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(fn=fn)
        return p

    p = add("fit", _fit, "train a feature learner from a YAML config")
    p.add_argument("-c", "--config", required=True, help="YAML config file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value (dotted key), repeatable")
    p.add_argument("--out", help="run folder to create (default: runs/<name>-<time>)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p = add("resume", _resume, "continue an interrupted run from its last checkpoint")
    p.add_argument("run", help="run folder")
    p = add("evaluate", _evaluate, "evaluate a run's features (probes, kNN) and update results.json")
    p.add_argument("run", help="run folder")
    p.add_argument("--data", help="dataset name or file (default: the run's own data)")
    p = add("embed", _embed, "write the features of a dataset to .npy or .csv, streaming batches")
    p.add_argument("run", help="run folder")
    p.add_argument("--data", required=True, help="dataset name or file (.npy/.npz/.csv)")
    p.add_argument("--out", required=True, help="output file, .npy or .csv")
    p.add_argument("--batch-size", type=int, default=1024)
    p = add("report", _report, "rebuild a run's plots and report.html")
    p.add_argument("run", help="run folder")
    p = add("export", _export, "export a run's model as safetensors (+JSON) or ONNX")
    p.add_argument("run", help="run folder")
    p.add_argument("--format", choices=["safetensors", "onnx"], default="safetensors")
    p.add_argument("--out", help="output folder (safetensors) or file (onnx)")
    p = add("list", _list, "list registered names (activations, encoders, optimizers, ...)")
    p.add_argument("kind", nargs="?", help="one kind, e.g. encoders")
    add("datasets", _datasets, "which datasets are available offline here, and where they were found")
    p = add("config", _config_check, "check a config without running it")
    p.add_argument("action", choices=["check"])
    p.add_argument("config", help="YAML config file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``deepfeat`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    from deepfeat.errors import DeepfeatError

    try:
        return args.fn(args)
    except DeepfeatError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the last completed epoch is in checkpoints/last.pt (deepfeat resume RUN)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
