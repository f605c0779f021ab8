"""Comparisons: every combination of a grid of settings x seeds, one normal run each, one report.

``deepfeat compare CONFIG --grid optimizer.lr=0.1,0.01 --seeds 3`` trains each combination with
:func:`deepfeat.run.workflow.fit` into ``OUT/<variant>-s<seed>/`` (a complete run folder each), then writes
``OUT/compare.json``, ``OUT/compare.csv`` and ``OUT/report.html``: test, best and final metrics, the
train-val accuracy gap, weight norm and sparsity, and wall time as mean ± std over seeds, and the
curves of every variant overlaid. A run that fails is recorded (its own ``results.json`` says why)
and shown as failed; the others go on. The grid and named variants can also live in the config's
``compare:`` section, which ``fit`` ignores.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import logging
import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from deepfeat.config import CompareConfig, Config, load_config
from deepfeat.engine.checkpoint import atomic_write
from deepfeat.layout import RunPaths, new_run_dir
from deepfeat.errors import ConfigError
from deepfeat.nn.params import weight_tensors
from deepfeat.reports.diag_plots import comparison_curves
from deepfeat.reports.figures import save_figure
from deepfeat.reports.html import html_image, html_page, html_section, html_table
from deepfeat.reports.readers import Row
from deepfeat.run.integrations import child_overrides, groups
from deepfeat.run.results import read_metrics_file
from deepfeat.run.trials import overrides_of, run_trial, trial_config

log = logging.getLogger("deepfeat")
GAP = "train-val acc gap"
# Three panels a row: accuracies (and their gap) above, losses below.
CURVE_METRICS = ("train/acc", "val/acc", GAP, "train/loss", "val/loss")
FINAL_METRICS = ("val/acc", GAP, "val/loss")  # train/loss is left to the curves: it includes any L1/L2 penalty
NEAR_ZERO = 1e-3  # |w| below this counts as pruned (an L1 penalty with Adam leaves weights jittering near 0, not at 0)


@dataclass
class Variant:
    """One combination of the grid: a label and the dotted ``key=value`` overrides that make it."""

    label: str
    overrides: list[str]
    position: tuple[int, ...] = ()  # index of its value along each grid key, then among the named variants


@dataclass
class CompareResult:
    """Where the comparison went, one summary row per variant, and the per-run records."""

    dir: Path
    rows: list[dict[str, Any]]
    runs: list[dict[str, Any]] = field(default_factory=list)
    styles: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def report(self) -> Path:
        return self.dir / "report.html"


def parse_grid(items: list[str] | tuple[str, ...]) -> dict[str, list[Any]]:
    """``["optimizer.lr=0.1,0.01"] -> {"optimizer.lr": [0.1, 0.01]}``; values are YAML (``{name: sgd}`` works)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        try:
            values = yaml.safe_load(f"[{text}]") if sep and text.strip() else None
        except yaml.YAMLError as e:
            raise ConfigError(f"--grid {item!r}: the values are not valid YAML ({e})") from None
        if not key.strip() or not values:
            raise ConfigError(f"--grid {item!r}: expected key=v1,v2,..., e.g. --grid optimizer.lr=0.1,0.01")
        grid[key.strip()] = values
    return grid


def value_label(value: Any) -> str:
    """``{"name": "normal", "std": 0.01} -> "normal(std=0.01)"``, ``0.1 -> "0.1"``."""
    if isinstance(value, dict):
        rest = ", ".join(f"{k}={value_label(v)}" for k, v in value.items() if k != "name")
        return f"{value.get('name', '')}({rest})" if rest else str(value.get("name", value))
    return str(value)


def make_variants(spec: CompareConfig) -> list[Variant]:
    """The cartesian product of ``spec.grid`` and ``spec.variants`` (named override sets), in order."""
    named = list(spec.variants.items()) or [("", {})]
    keys = list(spec.grid)
    out = []
    for index in itertools.product(*(range(len(v)) for v in spec.grid.values())):
        combo = [spec.grid[k][i] for k, i in zip(keys, index)]
        for n, (name, extra) in enumerate(named):
            parts = ([name] if name else []) + [f"{k.split('.')[-1]}={value_label(v)}" for k, v in zip(keys, combo)]
            overrides = overrides_of({**extra, **dict(zip(keys, combo))})
            out.append(Variant(" ".join(parts) or "base", overrides, (*index, n)))
    return out


def line_styles(variants: list[Variant]) -> dict[str, tuple[int, int]]:
    """``label -> (colour, line style)``: the first varying setting picks the colour, the second the style."""
    if not variants:
        return {}
    varying = [d for d in range(len(variants[0].position)) if len({v.position[d] for v in variants}) > 1]
    if len(varying) >= 2:
        return {v.label: (v.position[varying[0]], v.position[varying[1]]) for v in variants}
    return {v.label: (i % 10, i // 10) for i, v in enumerate(variants)}


def _folder(label: str, seed: int) -> str:
    return f"{re.sub(r'[^A-Za-z0-9_.=-]+', '_', label).strip('_') or 'base'}-s{seed}"


def compare(config: Any = None, *, grid: dict[str, list[Any]] | None = None, seeds: int | None = None,
            out: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
            runs_dir: str | Path = "runs") -> CompareResult:
    """Run every grid combination x seed as a normal run, then write the comparison table and report.

    ``grid`` adds to (and overrides keys of) the config's ``compare.grid``; ``seeds`` replaces
    ``compare.seeds``. Every combination's config is validated before the first run starts.
    """
    base = load_config(config, overrides)
    spec = CompareConfig({**base.compare.grid, **(grid or {})}, base.compare.variants, seeds or base.compare.seeds)
    if not spec.grid and not spec.variants:
        raise ConfigError("compare: expected a grid to compare, got none. Pass --grid key=v1,v2 "
                          "(e.g. --grid optimizer.lr=0.1,0.01) or add a compare: {grid: ...} section to the config")
    variants = make_variants(spec)
    jobs = [(v, s, trial_config(base, {}, [*v.overrides, f"seed={base.seed + s}"])) for v in variants for s in range(spec.seeds)]
    root = Path(out) if out else new_run_dir(Path(runs_dir), f"{base.name or base.data['name']}-compare")
    root.mkdir(parents=True, exist_ok=True)
    with groups(base, root, root.name) as opened:  # tracking: one parent run, a child per run
        for group in opened.values():
            group.log(params={f"grid.{k}": v for k, v in spec.grid.items()} | {"seeds": spec.seeds},
                      tags={"deepfeat.kind": "compare"})
        joined = child_overrides(opened)
        records = [_run(v.label, s, load_config(cfg, joined) if joined else cfg, root) for v, s, cfg in jobs]
        result = CompareResult(root, summarize(records, base.training.monitor), records, line_styles(variants))
        _write_tables(result)
        write_compare_report(result, base, spec)
        for group in opened.values():
            group.log(files=[root / "compare.csv", root / "compare.json", result.report])
    return result


def _run(label: str, seed: int, cfg: Config, root: Path) -> dict[str, Any]:
    """Train one combination; a run that fails (diverges, raises) is recorded as failed and the rest go on."""
    folder = root / _folder(label, seed)
    trial = run_trial(cfg, folder)
    results, failure = trial.results, trial.failure
    weights = weight_stats(trial.run.learner) if trial.run is not None else {}
    if failure:  # one failing cell must not lose the comparison: it shows as failed
        log.warning(f"compare: run {folder.name} failed: {error_text(failure)}")
    rows = [with_gap(r) for r in read_metrics_file(RunPaths(folder)) or []]
    last = rows[-1] if rows else {}
    fit_ = results.get("fit", {})
    findings = [f["kind"] for f in results.get("diagnostics", []) if f.get("severity") == "warning"]
    return {"label": label, "seed": seed, "dir": folder.name, "status": "failed" if failure else "completed",
            "error": failure, "curves": rows, "final": {k: last[k] for k in FINAL_METRICS if last.get(k) is not None},
            "test": dict(results.get("test", {})), "best": fit_.get("best", {}), "best_epoch": fit_.get("best_epoch"),
            "time_s": fit_.get("time_s", last.get("time_s")), "weights": weights,
            "findings": findings + ([f"failed ({failure.get('type', 'error')})"] if failure else [])}


def error_text(failure: dict[str, Any]) -> str:
    """``"TrainingError (epoch 3): training stopped ..."`` from a failed run's ``results["error"]``."""
    where = f" (epoch {failure['epoch']})" if failure.get("epoch") is not None else ""
    return f"{failure.get('type', 'error')}{where}: {failure.get('message', '')}"


def with_gap(row: Row) -> Row:
    """A metrics row plus the train-val accuracy gap, where both accuracies were logged."""
    train, val = row.get("train/acc"), row.get("val/acc")
    return {**row, GAP: train - val} if isinstance(train, float) and isinstance(val, float) else row


def weight_stats(module: torch.nn.Module) -> dict[str, float]:
    """L2 norm of all weights (biases and norm layers excluded) and the share with ``|w| < NEAR_ZERO``."""
    weights = weight_tensors(module)
    if not weights:
        return {}
    flat = torch.cat([w.detach().float().flatten().cpu() for w in weights])
    return {"weight L2 norm": float(flat.norm()), f"share |w|<{NEAR_ZERO:g}": float((flat.abs() < NEAR_ZERO).float().mean())}


def summarize(records: list[dict[str, Any]], monitor: str) -> list[dict[str, Any]]:
    """One row per variant: ``{column: [value per completed seed]}`` and how many seeds failed."""
    rows: dict[str, dict[str, Any]] = {}
    for r in records:
        row = rows.setdefault(r["label"], {"variant": r["label"], "seeds": 0, "failed": 0, "values": {},
                                           "findings": set(), "dirs": []})
        row["seeds"] += 1
        row["dirs"].append(r["dir"])
        row["findings"].update(r["findings"])
        if r["status"] != "completed":
            row["failed"] += 1  # its partial metrics would skew the mean: the failed count says it instead
            continue
        # The columns that tell variants apart come first: test and final metrics, then the weights.
        cells = {**r["test"], **{f"final {k}": v for k, v in r["final"].items()}, **r["weights"],
                 f"best {monitor}": r["best"].get(monitor), "time_s": r["time_s"]}
        for key, value in cells.items():
            row["values"].setdefault(key, []).append(value)
    return [{**row, "findings": sorted(row["findings"])} for row in rows.values()]


def mean_std(values: list[Any]) -> str:
    """``"0.973 ± 0.0042"`` over seeds (the value alone for one seed, a dash when missing)."""
    arr = np.array([v for v in values if isinstance(v, (int, float))], dtype=float)
    arr = arr[np.isfinite(arr)]
    if not len(arr):
        return "\u2014"
    return f"{arr.mean():.3g}" if len(arr) == 1 else f"{arr.mean():.3g} \u00b1 {arr.std(ddof=1):.2g}"


def summary_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and plain-text cells of the summary; a variant whose every seed failed reads "failed"."""
    cols = list(dict.fromkeys(k for row in rows for k in row["values"]))
    failed = any(r["failed"] for r in rows)
    notes = any(r["findings"] for r in rows)  # diagnostics verdicts and failed runs, when there are any
    header = ["variant", "seeds", *(["failed"] if failed else []), *cols, *(["diagnostics"] if notes else [])]
    body = [[r["variant"], str(r["seeds"]), *([f"{r['failed']}/{r['seeds']}"] if failed else []),
             *("failed" if r["failed"] == r["seeds"] else mean_std(r["values"].get(c, [])) for c in cols),
             *([", ".join(r["findings"]) or "none"] if notes else [])] for r in rows]
    return header, body


def table_text(rows: list[dict[str, Any]]) -> str:
    """The summary table as aligned plain text (what the CLI prints)."""
    header, body = summary_table(rows)
    lines = [header, *body]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)


def _write_tables(result: CompareResult) -> None:
    data = {"rows": result.rows, "runs": [{k: v for k, v in r.items() if k != "curves"} for r in result.runs]}
    atomic_write(result.dir / "compare.json", lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2, default=str)))
    header, body = summary_table(result.rows)
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *body])
    atomic_write(result.dir / "compare.csv", lambda tmp: Path(tmp).write_text(buf.getvalue()))


def _curves_figure(result: CompareResult) -> Path | None:
    curves: dict[str, list[list[Row]]] = {}
    for label in dict.fromkeys(r["label"] for r in result.runs):
        runs = [r for r in result.runs if r["label"] == label and r["curves"]]
        done = [r["curves"] for r in runs if r["status"] == "completed"]
        # Failed seeds are left out of the mean; a variant that failed on every seed shows how far it got.
        if done or runs:
            curves[label] = done or [r["curves"] for r in runs]
    metrics = [m for m in CURVE_METRICS if any(m in row for runs in curves.values() for rows in runs for row in rows)]
    if not metrics:
        return None
    return save_figure(comparison_curves(curves, metrics, result.styles), result.dir, "compare_curves", title="Curves",
                       section="Comparison", caption="Mean over seeds per variant (band: min to max over seeds). train/acc and "
                       "train/loss are running means over each epoch in training mode (dropout on, batch statistics); "
                       "train/loss includes any L1/L2 penalty, val/loss does not.")


def write_compare_report(result: CompareResult, base: Config, spec: CompareConfig) -> Path:
    """``report.html``: the grid, the summary table, overlaid curves, failures and links to every run's report."""
    png = _curves_figure(result)
    header, body = summary_table(result.rows)
    numeric = {i for i, h in enumerate(header) if h not in ("variant", "diagnostics")}
    links = "".join(f'<li><a href="{escape(d)}/report.html">{escape(d)}</a></li>' for r in result.rows for d in r["dirs"])
    failures = "".join(f'<li><a href="{escape(r["dir"])}/report.html">{escape(r["dir"])}</a>: '
                       f'{escape(error_text(r["error"]))}</li>' for r in result.runs if r["status"] != "completed")
    grid = "".join(f"<li><code>{escape(k)}</code>: {escape(', '.join(map(value_label, v)))}</li>" for k, v in spec.grid.items())
    grid += "".join(f"<li>variant <code>{escape(k)}</code>: {escape(json.dumps(v))}</li>" for k, v in spec.variants.items())
    page = [
        (f"<header><h1>Comparison: {escape(base.name or result.dir.name)}</h1><p class=\"sub\">deepfeat compare "
         f"\u2014 {dt.datetime.now():%Y-%m-%d %H:%M} \u2014 {spec.seeds} seed(s) per variant \u2014 "
         f"<code>{escape(str(result.dir.resolve()))}</code></p></header>"),
        html_section("What varies", f"<ul>{grid}</ul>"),
        html_section("Results (mean \u00b1 std over seeds)", html_table(
            [escape(h).replace(" ", "<br>", 1) for h in header], [list(map(escape, line)) for line in body], numeric)),
        html_section("Failed runs", f"<ul>{failures}</ul>") if failures else "",
        html_section("Curves", html_image(png) if png else '<p class="missing">No per-epoch metrics.</p>'),
        html_section("Runs", f"<ul>{links}</ul>"),
    ]
    text = html_page(f"{result.dir.name} \u2014 deepfeat comparison", page)
    atomic_write(result.report, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return result.report
