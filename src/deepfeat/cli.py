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
    "evaluate": "deepfeat evaluate runs/mlp --protocol linear,knn,cluster,fewshot,health",
    "embed": "deepfeat embed runs/mlp --data digits --out features.npy",
    "report": "deepfeat report runs/mlp",
    "export": "deepfeat export runs/mlp --format onnx",
    "list": "deepfeat list encoders",
    "datasets": "deepfeat datasets",
    "config": "deepfeat config check examples/configs/digits_mlp.yaml",
    "denoise": "deepfeat denoise runs/dae --data digits --noise '{name: gaussian, sigma: 0.5}' --out denoised.png",
    "score": "deepfeat score runs/ae --data digits --out scores.csv --quantile 0.99",
    "sample": "deepfeat sample runs/vae --n 64 --out samples.png",
    "diagnose": "deepfeat diagnose examples/configs/digits_mlp.yaml --set optimizer.lr=0.3",
    "lr-find": "deepfeat lr-find examples/configs/digits_mlp.yaml",
    "compare": "deepfeat compare examples/configs/compare_optimizers.yaml --seeds 2 --out runs/optimizers",
}


def _diagnose(a: argparse.Namespace) -> int:
    from deepfeat.api import diagnose

    logging.getLogger("deepfeat").setLevel(logging.ERROR)  # the verdicts are printed below, once
    run = diagnose(a.config, out=a.out, overrides=a.set, epochs=a.epochs)
    findings = run.results.get("diagnostics", [])
    for f in findings:
        print(f"{f['severity']}: {f['message']}")
    if not any(f["severity"] == "warning" for f in findings):
        print(f"no problems found in {run.results['fit']['epochs']} epochs")
    if run.config.logging.report:
        print(f"report: {run.paths.report}")
    return 0


def _lr_find(a: argparse.Namespace) -> int:
    from deepfeat.api import lr_find

    result, png = lr_find(a.config, out=a.out, overrides=a.set, steps=a.steps, min_lr=a.min_lr, max_lr=a.max_lr)
    if result.suggestion is None:
        print(f"no suggestion: {result.reason}")
    else:
        print(f"suggested lr: {result.suggestion:.2g} ({result.reason})")
    print(f"plot: {png}")
    return 0


def _compare(a: argparse.Namespace) -> int:
    from deepfeat.run.compare import compare, parse_grid, table_text

    result = compare(a.config, grid=parse_grid(a.grid), seeds=a.seeds, out=a.out, overrides=a.set)
    print(table_text(result.rows))
    failed = sum(r["failed"] for r in result.rows)
    if failed:  # a diverging setting is a finding of the comparison, not an error of the command: exit 0
        print(f"{failed} of {sum(r['seeds'] for r in result.rows)} runs failed: see 'Failed runs' in the report")
    print(f"report: {result.report}")
    return 0


def _denoise(a: argparse.Namespace) -> int:
    import yaml

    from deepfeat.run.apply import denoise_file

    noise = yaml.safe_load(a.noise) if a.noise else None
    print(f"denoised samples written to {denoise_file(a.run, a.data, a.out, noise, a.seed)}")
    return 0


def _score(a: argparse.Namespace) -> int:
    from deepfeat.run.apply import score_file

    out, summary = score_file(a.run, a.data, a.out, a.quantile, a.contamination)
    print(f"scored {summary['samples']} samples: {summary['flagged']:.1%} above threshold {summary['threshold']:.4g}")
    print(f"scores written to {out}")
    return 0


def _sample(a: argparse.Namespace) -> int:
    from deepfeat.run.apply import sample_file

    print(f"samples written to {sample_file(a.run, a.n, a.out, a.seed)}")
    return 0


def _fit(a: argparse.Namespace) -> int:
    from deepfeat.api import fit
    from deepfeat.config import load_config

    cfg = load_config(a.config, a.set)
    if a.print_config:
        print(cfg.to_yaml(), end="")
        return 0
    run = fit(cfg, out=a.out)
    _print_summary(run.dir, run.results, run.config.logging.report)
    return 0


def _print_summary(run_dir: Path, results: dict[str, Any], report: bool) -> None:
    """The test metrics, the run folder and, when ``report`` (logging.report) wrote it, the report."""
    from deepfeat.engine.distributed import current
    from deepfeat.layout import RunPaths

    if not current().is_main:  # under torchrun the other ranks have no results: rank 0 speaks for the run
        return
    # The learner's headline metrics first (PSNR for a denoiser, FID for a GAN, ...), then the test metrics.
    headline = results.get("headline") or []
    shown = {c["key"] for c in headline}
    parts = [f"{c['label']} {c['value']:.4g}" for c in headline]
    parts += [f"{k} {v:.4f}" for k, v in (results.get("test") or {}).items() if f"test.{k}" not in shown]
    print(f"done: {'  '.join(parts)}")
    print(f"run folder: {run_dir}")
    if report:
        print(f"report:     {RunPaths(run_dir).report}")


def _resume(a: argparse.Namespace) -> int:
    from deepfeat.api import resume

    run = resume(a.run)
    _print_summary(run.dir, run.results, run.config.logging.report)
    return 0


def _evaluate(a: argparse.Namespace) -> int:
    from deepfeat.api import evaluate
    from deepfeat.config import load_config
    from deepfeat.layout import RunPaths

    results = evaluate(a.run, a.data, a.protocol)
    for name, result in results.get("evaluations", {}).items():
        print(f"{name:<13} {_numbers(result)}")
    _print_summary(Path(a.run), results, load_config(RunPaths(Path(a.run)).config).logging.report)
    return 0


def _numbers(result: dict[str, Any]) -> str:
    """``accuracy 0.9612  accuracy_by_k 5:0.9612 20:0.9530`` for the numbers of one evaluation."""
    parts = []
    for key, value in result.items():
        if isinstance(value, float):
            parts.append(f"{key} {value:.4f}")
        elif isinstance(value, dict) and value and all(isinstance(v, float) for v in value.values()):
            parts.append(f"{key} " + " ".join(f"{k}:{v:.4f}" for k, v in value.items()))
    return "  ".join(parts)


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
    from deepfeat.layout import RunPaths
    from deepfeat.run.runs import restore_model

    source = restore_model(a.run)  # a missing or damaged model/ is rebuilt from the checkpoint first
    if source is not None:
        print(f"rebuilt {RunPaths(Path(a.run)).model} from {source}")
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
    p = add("evaluate", _evaluate, "evaluate a run's features (probes, kNN, clustering, few labels, health) and update results.json")
    p.add_argument("run", help="run folder")
    p.add_argument("--data", help="dataset name or file (default: the run's own data)")
    p.add_argument("--protocol", metavar="NAMES",
                   help="comma-separated evaluators: linear, knn, cluster, fewshot, health (default: the config's "
                        "evaluation.protocol, linear,knn)")
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
    p = add("denoise", _denoise, "denoise a dataset with a trained (denoising) autoencoder")
    p.add_argument("run", help="run folder")
    p.add_argument("--data", required=True, help="dataset name or file (.npy/.npz/.csv) of noisy samples")
    p.add_argument("--out", required=True, help="output: .npy, or .png for a grid of images")
    p.add_argument("--noise", help="corrupt the data first with this noise spec (YAML), e.g. gaussian")
    p.add_argument("--seed", type=int, default=0, help="seed of the --noise draw")
    p = add("score", _score, "anomaly scores and 0/1 decisions of an autoencoder/VAE run for a dataset")
    p.add_argument("run", help="run folder")
    p.add_argument("--data", required=True, help="dataset name or file (.npy/.npz/.csv)")
    p.add_argument("--out", required=True, help="output: .csv (score,anomaly[,label]) or .npy (scores)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--quantile", type=float, help="re-calibrate: threshold = this quantile of clean validation scores")
    how.add_argument("--contamination", type=float, help="re-calibrate: expected fraction of anomalies")
    p = add("sample", _sample, "draw samples from a trained VAE (its prior) or GAN (its generator)")
    p.add_argument("run", help="run folder")
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--out", required=True, help="output: .npy, or .png for a grid of images")
    p.add_argument("--seed", type=int, default=0)
    p = add("config", _config_check, "check a config without running it")
    p.add_argument("action", choices=["check"])
    p.add_argument("config", help="YAML config file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p = add("diagnose", _diagnose, "a short run with diagnostics on: verdicts with remedies, and the report")
    p.add_argument("config", help="YAML config file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, repeatable")
    p.add_argument("--epochs", type=int, default=3, help="at most this many epochs (default 3)")
    p.add_argument("--out", help="run folder to create (default: runs/<name>-<time>)")
    p = add("lr-find", _lr_find, "learning-rate range test (Smith 2017): the loss-vs-lr plot and a suggested lr")
    p.add_argument("config", help="YAML config file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, repeatable")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--min-lr", type=float, default=1e-7)
    p.add_argument("--max-lr", type=float, default=10.0)
    p.add_argument("--out", help="folder for lr_find.json and the plot (default: runs/<name>-lr-find-<time>)")
    p = add("compare", _compare, "run every combination of a grid x seeds, then one table and one report")
    p.add_argument("config", help="YAML config file (its compare: section may hold the grid)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2", help="values to try for a dotted key, repeatable")
    p.add_argument("--seeds", type=int, help="runs per combination (seeds seed, seed+1, ...)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, repeatable")
    p.add_argument("--out", help="folder for the runs and the report (default: runs/<name>-compare-<time>)")
    return parser


def _unknown_command(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """The one-line complaint about a mistyped command, with the close match (argparse lists all of them)."""
    import difflib

    commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    # The top-level options (--debug, -v, -h) take no value, so the first other word is the command.
    word = next((w for w in argv if not w.startswith("-")), None)
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
