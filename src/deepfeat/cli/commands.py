"""What each subcommand does: one call into the library, then a few lines of output.

Each imports what it needs when it runs, so ``deepfeat --help`` and ``deepfeat list`` start without torch.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any


def cmd_diagnose(a: argparse.Namespace) -> int:
    from deepfeat.api import diagnose

    logger = logging.getLogger("deepfeat")
    level = logger.level
    logger.setLevel(logging.ERROR)  # the verdicts are printed below, once
    try:
        run = diagnose(a.config, out=a.out, overrides=a.set, epochs=a.epochs)
    finally:  # a caller in the same process (a notebook, a test) keeps deepfeat's warnings
        logger.setLevel(level)
    findings = run.results.get("diagnostics", [])
    for f in findings:
        print(f"{f['severity']}: {f['message']}")
    if not any(f["severity"] == "warning" for f in findings):
        print(f"no problems found in {run.results['fit']['epochs']} epochs")
    if run.config.logging.report:
        print(f"report: {run.paths.report}")
    return 0


def cmd_lr_find(a: argparse.Namespace) -> int:
    from deepfeat.api import lr_find

    result, png = lr_find(a.config, out=a.out, overrides=a.set, steps=a.steps, min_lr=a.min_lr, max_lr=a.max_lr)
    if result.suggestion is None:
        print(f"no suggestion: {result.reason}")
    else:
        print(f"suggested lr: {result.suggestion:.2g} ({result.reason})")
    print(f"plot: {png}")
    return 0


def cmd_compare(a: argparse.Namespace) -> int:
    from deepfeat.run.compare import compare, parse_grid, table_text

    result = compare(a.config, grid=parse_grid(a.grid), seeds=a.seeds, out=a.out, overrides=a.set)
    print(table_text(result.rows))
    failed = sum(r["failed"] for r in result.rows)
    if failed:  # a diverging setting is a finding of the comparison, not an error of the command: exit 0
        print(f"{failed} of {sum(r['seeds'] for r in result.rows)} runs failed: see 'Failed runs' in the report")
    print(f"report: {result.report}")
    return 0


def cmd_tune(a: argparse.Namespace) -> int:
    from deepfeat.run.tune import table_text, tune

    try:
        result = tune(a.config, a.space, trials=a.trials, timeout=a.timeout, seed=a.seed, study=a.study,
                      storage=a.storage, pruner=a.pruner, out=a.out, overrides=a.set)
    except KeyboardInterrupt:
        print("interrupted; the study keeps every finished trial: run the same command again to continue it",
              file=sys.stderr)
        return 130
    print(table_text(result.rows))
    if result.best_config is None:
        print("no trial completed: see trials.csv and the trials' run folders")
    else:
        test = "  ".join(f"{k} {v:.4f}" for k, v in result.best_test.items())
        print(f"best: trial {result.best_trial}, {result.monitor} {result.best_value:.4f} (validation)"
              + (f"; its test metrics: {test}" if test else ""))
        print(f"best config: {result.best_yaml}")
    print(f"trials: {result.table}")
    print(f"report: {result.report}")
    return 0


def _say_what_is_reused() -> None:
    """Applying a run to new data prints the one line saying which of the run's data settings it reused."""
    logging.getLogger("deepfeat.run.new_data").setLevel(logging.INFO)


def cmd_denoise(a: argparse.Namespace) -> int:
    import yaml

    from deepfeat.run.apply import denoise_file

    _say_what_is_reused()
    noise = yaml.safe_load(a.noise) if a.noise else None
    out = denoise_file(a.run, a.data, a.out, noise, a.seed, a.batch_size)
    print(f"denoised samples written to {out}" + _ids_note(out))
    return 0


def _ids_note(out: Path) -> str:
    from deepfeat.run.sample_table import ids_file

    return f" (sample ids: {ids_file(out)})" if out.suffix == ".npy" else ""


def cmd_predict(a: argparse.Namespace) -> int:
    from deepfeat.api import predict

    _say_what_is_reused()
    if a.out:
        out = predict(a.run, a.data, a.out, a.batch_size)
        print(f"predictions written to {out}" + _ids_note(out))
        return 0
    answers = predict(a.run, a.data, batch_size=a.batch_size)
    print("id,label,probability")
    for i, label, p in zip(answers.ids, answers.labels, answers.proba.max(axis=1, initial=0.0)):
        print(f"{i},{label},{p:.4f}")
    return 0


def cmd_score(a: argparse.Namespace) -> int:
    from deepfeat.run.apply import score_file

    _say_what_is_reused()
    out, summary = score_file(a.run, a.data, a.out, a.quantile, a.contamination, a.reduce, a.batch_size)
    if "points" in summary:  # a run trained on windows: one score per time point
        print(f"scored {summary['points']} time points from {summary['windows']} windows (length {summary['length']}, "
              f"stride {summary['stride']}, {summary['reduce']} over covering windows): {summary['flagged']:.1%} "
              f"above threshold {summary['threshold']:.4g}")
        metrics = summary["metrics"]
        if metrics:
            print(f"point ROC-AUC {metrics['roc_auc']:.3f}, average precision {metrics['average_precision']:.3f}")
    else:
        print(f"scored {summary['samples']} samples: {summary['flagged']:.1%} above threshold "
              f"{summary['threshold']:.4g}")
    print(f"scores written to {out}" + _ids_note(out))
    return 0


def cmd_sample(a: argparse.Namespace) -> int:
    from deepfeat.run.apply import sample_file

    print(f"samples written to {sample_file(a.run, a.n, a.out, a.seed)}")
    return 0


def cmd_fit(a: argparse.Namespace) -> int:
    from deepfeat.config import load_config

    if a.help_config:
        from deepfeat.cli.reference import config_keys_text

        print(config_keys_text(load_config(a.config, a.set) if a.config else None))
        return 0
    cfg = load_config(a.config, a.set)
    if a.data is not None:
        from deepfeat.run.runs import with_data

        cfg = with_data(cfg, a.data)[0]
    if a.print_config:
        import yaml

        from deepfeat.cli.reference import resolved_config

        print(yaml.safe_dump(resolved_config(cfg), sort_keys=False), end="")
        return 0
    from deepfeat.api import fit

    run = fit(cfg, out=a.out)
    _print_summary(run)
    return 0


def _print_summary(run: Any) -> None:
    """The summary of a fit or resume: ``fit`` printed it itself unless the run's progress output is off."""
    from deepfeat.run.results import print_summary

    if run.config.training.progress == "none":
        print_summary(run.dir, run.results, run.config.logging.report)


def cmd_resume(a: argparse.Namespace) -> int:
    from deepfeat.api import resume

    run = resume(a.run)
    _print_summary(run)
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from deepfeat.api import evaluate
    from deepfeat.config import load_config
    from deepfeat.layout import RunPaths
    from deepfeat.run.results import print_summary

    results = evaluate(a.run, a.data, a.protocol)
    for name, result in results.get("evaluations", {}).items():
        print(f"{name:<13} {_numbers(result)}")
    print_summary(Path(a.run), results, load_config(RunPaths(Path(a.run)).config).logging.report)
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


def cmd_embed(a: argparse.Namespace) -> int:
    from deepfeat.api import embed

    _say_what_is_reused()
    out = embed(a.run, a.data, a.out, a.batch_size)
    print(f"features written to {out}" + _ids_note(out))
    return 0


def cmd_index(a: argparse.Namespace) -> int:
    from deepfeat.run.retrieval import build_index, default_search, read_index

    _say_what_is_reused()
    path = build_index(a.run, a.data, a.metric, a.batch_size)
    index = read_index(a.run)
    print(f"indexed {len(index.ids)} samples ({index.metric} distance) into {path}; searched with {default_search()}")
    return 0


def cmd_neighbors(a: argparse.Namespace) -> int:
    from deepfeat.run.retrieval import neighbors, write_neighbors

    _say_what_is_reused()
    found = neighbors(a.run, a.query, a.k, batch_size=a.batch_size)
    print("id,neighbors (id:distance, nearest first)")
    for qid, ids, dist in zip(found.query_ids, found.ids, found.distances):
        print(f"{qid}," + " ".join(f"{i}:{d:.4g}" for i, d in zip(ids, dist)))
    if a.out:
        print(f"neighbors written to {write_neighbors(found, a.out)}")
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    from deepfeat.api import report

    print(f"report: {report(a.run)}")
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from deepfeat.api import export
    from deepfeat.layout import RunPaths
    from deepfeat.run.runs import restore_model

    source = restore_model(a.run)  # a missing or damaged model/ is rebuilt from the checkpoint first
    if source is not None:
        print(f"rebuilt {RunPaths(Path(a.run)).model} from {source}")
    print(f"exported: {export(a.run, a.format, a.out)}")
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    from deepfeat.cli.reference import kinds_text, names_text

    print(names_text(a.kind, a.name) if a.kind else kinds_text())
    return 0


def cmd_datasets(a: argparse.Namespace) -> int:
    from deepfeat.data.datasets import available_datasets

    for row in available_datasets():
        mark = "yes" if row["available"] else "no "
        print(f"  {row['name']:<15} {mark}  {row['where']}")
    return 0


def cmd_pack(a: argparse.Namespace) -> int:
    from deepfeat.run.pack import pack

    manifest = pack(a.source, a.out, a.shard_rows)
    print(f"packed {manifest['count']:,} samples into {len(manifest['shards'])} shards in {a.out}")
    return 0


def cmd_examples(a: argparse.Namespace) -> int:
    from deepfeat.cli import examples
    from deepfeat.errors import ConfigError

    if a.action is None:
        print(examples.index_markdown() if a.markdown else examples.index_text(), end="\n" * (not a.markdown))
        return 0
    if a.name is None:
        raise ConfigError("example at deepfeat examples copy: expected a name, got none. "
                          "See them with: deepfeat examples.")
    target = examples.copy(a.name, Path(a.to))
    print(f"wrote {target}; train it with: deepfeat fit -c {target}")
    return 0


def cmd_config(a: argparse.Namespace) -> int:
    from deepfeat.api import check_config
    from deepfeat.cli.reference import remember_names

    try:
        check_config(a.config, a.set)
    finally:  # the next check of a config answers its keys and names before torch loads
        remember_names()
    print(f"{a.config}: ok (data, learner and the extras its evaluations need; nothing trained)")
    return 0


def cmd_config_schema(a: argparse.Namespace) -> int:
    import json

    from deepfeat.atomic import atomic_write
    from deepfeat.cli.json_schema import config_json_schema

    text = json.dumps(config_json_schema(), indent=2) + "\n"
    if a.out is None:
        print(text, end="")
    else:
        atomic_write(Path(a.out), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        print(f"wrote {a.out}; point your editor's YAML schema setting at it")
    return 0
