"""Comparisons: every combination of a grid of settings x seeds, one normal run each, one report.

``deepfeat compare CONFIG --grid optimizer.lr=0.1,0.01 --seeds 3`` trains each combination with
:func:`deepfeat.api.fit` into ``OUT/<variant>-s<seed>/`` (a complete run folder each), then writes
``OUT/compare.json``, ``OUT/compare.csv`` and ``OUT/report.html``: final and best metrics and wall
time as mean ± std over seeds, and the curves of every variant overlaid. The grid and named variants
can also live in the config's ``compare:`` section, which ``fit`` ignores.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deepfeat.api import fit
from deepfeat.config import CompareConfig, Config, load_config
from deepfeat.engine.checkpoint import atomic_write
from deepfeat.engine.rundir import new_run_dir
from deepfeat.errors import ConfigError, TrainingError
from deepfeat.reports.diag_plots import comparison_curves
from deepfeat.reports.figures import save_figure
from deepfeat.reports.html import _image, _section, _table
from deepfeat.reports.rundir import Row, read_metrics
from deepfeat.reports.style import CSS

CURVE_METRICS = ("train/loss", "val/loss", "val/acc")


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
            overrides = [f"{k}={json.dumps(v)}" for k, v in [*extra.items(), *zip(keys, combo)]]
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
    raw = {k: v for k, v in base.to_dict().items() if k != "compare"}
    variants = make_variants(spec)
    jobs = [(v, s, load_config(raw, [*v.overrides, f"seed={base.seed + s}"])) for v in variants for s in range(spec.seeds)]
    root = Path(out) if out else new_run_dir(Path(runs_dir), f"{base.name or base.data['name']}-compare")
    root.mkdir(parents=True, exist_ok=True)
    records = [_run(v.label, s, cfg, root) for v, s, cfg in jobs]
    result = CompareResult(root, summarize(records, base.training.monitor), records, line_styles(variants))
    _write_tables(result)
    write_compare_report(result, base, spec)
    return result


def _run(label: str, seed: int, cfg: Config, root: Path) -> dict[str, Any]:
    """Train one combination; a run that fails (e.g. diverges) is recorded as such and the rest go on."""
    folder = root / _folder(label, seed)
    try:
        results, error = fit(cfg, out=folder).results, None
    except TrainingError as e:
        results, error = {}, str(e)
    rows = read_metrics(folder) or []
    fit_ = results.get("fit", {})
    findings = [f["kind"] for f in results.get("diagnostics", []) if f.get("severity") == "warning"]
    return {"label": label, "seed": seed, "dir": folder.name, "curves": rows, "error": error,
            "final": {k: v for k, v in (rows[-1] if rows else {}).items() if "/" in k},
            "test": dict(results.get("test", {})), "best": fit_.get("best", {}), "best_epoch": fit_.get("best_epoch"),
            "time_s": fit_.get("time_s", rows[-1].get("time_s") if rows else None),
            "findings": findings + (["training failed"] if error else [])}


def summarize(records: list[dict[str, Any]], monitor: str) -> list[dict[str, Any]]:
    """One row per variant: ``{column: [value per seed]}`` for test, best and final metrics and time."""
    rows: dict[str, dict[str, Any]] = {}
    for r in records:
        row = rows.setdefault(r["label"], {"variant": r["label"], "seeds": 0, "values": {}, "findings": set(), "dirs": []})
        row["seeds"] += 1
        row["dirs"].append(r["dir"])
        cells = {**r["test"], f"best {monitor}": r["best"].get(monitor),
                 **{f"final {k}": r["final"].get(k) for k in ("train/loss", "val/loss") if k in r["final"]},
                 "time_s": r["time_s"]}
        for key, value in cells.items():
            row["values"].setdefault(key, []).append(value)
        row["findings"].update(r["findings"])
    return [{**row, "findings": sorted(row["findings"])} for row in rows.values()]


def mean_std(values: list[Any]) -> str:
    """``"0.973 ± 0.004"`` over seeds (the value alone for one seed, a dash when missing)."""
    arr = np.array([v for v in values if isinstance(v, (int, float))], dtype=float)
    arr = arr[np.isfinite(arr)]
    if not len(arr):
        return "\u2014"
    return f"{arr.mean():.4g}" if len(arr) == 1 else f"{arr.mean():.4g} \u00b1 {arr.std(ddof=1):.2g}"


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(k for row in rows for k in row["values"]))


def table_text(rows: list[dict[str, Any]]) -> str:
    """The summary table as aligned plain text (what the CLI prints)."""
    cols = _columns(rows)
    notes = any(r["findings"] for r in rows)  # diagnostics verdicts and failed runs, when there are any
    body = [["variant", "seeds", *cols] + (["diagnostics"] if notes else [])]
    body += [[r["variant"], str(r["seeds"]), *(mean_std(r["values"].get(c, [])) for c in cols)]
             + ([", ".join(r["findings"]) or "none"] if notes else []) for r in rows]
    widths = [max(len(line[i]) for line in body) for i in range(len(body[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in body)


def _write_tables(result: CompareResult) -> None:
    data = {"rows": result.rows, "runs": [{k: v for k, v in r.items() if k != "curves"} for r in result.runs]}
    atomic_write(result.dir / "compare.json", lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2, default=str)))
    cols = _columns(result.rows)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["variant", "seeds", *cols])
    writer.writerows([[r["variant"], r["seeds"], *(mean_std(r["values"].get(c, [])) for c in cols)] for r in result.rows])
    atomic_write(result.dir / "compare.csv", lambda tmp: Path(tmp).write_text(buf.getvalue()))


def _curves_figure(result: CompareResult) -> Path | None:
    curves: dict[str, list[list[Row]]] = {}
    for r in result.runs:
        curves.setdefault(r["label"], []).append(r["curves"])
    metrics = [m for m in CURVE_METRICS if any(m in row for runs in curves.values() for rows in runs for row in rows)]
    if not metrics:
        return None
    return save_figure(comparison_curves(curves, metrics, result.styles), result.dir, "compare_curves", title="Curves",
                       section="Comparison", caption="Mean over seeds per variant (band: min to max over seeds).")


def write_compare_report(result: CompareResult, base: Config, spec: CompareConfig) -> Path:
    """``report.html``: the grid, the summary table, overlaid curves and links to every run's own report."""
    png = _curves_figure(result)
    cols = _columns(result.rows)
    has_findings = any(r["findings"] for r in result.rows)
    header = ["variant", "seeds", *map(escape, cols)] + (["diagnostics"] if has_findings else [])
    cells = [[escape(r["variant"]), str(r["seeds"]), *(escape(mean_std(r["values"].get(c, []))) for c in cols)]
             + ([escape(", ".join(r["findings"]) or "none")] if has_findings else []) for r in result.rows]
    links = "".join(f'<li><a href="{escape(d)}/report.html">{escape(d)}</a></li>' for r in result.rows for d in r["dirs"])
    grid = "".join(f"<li><code>{escape(k)}</code>: {escape(', '.join(map(value_label, v)))}</li>" for k, v in spec.grid.items())
    grid += "".join(f"<li>variant <code>{escape(k)}</code>: {escape(json.dumps(v))}</li>" for k, v in spec.variants.items())
    body = [
        f"<header><h1>Comparison: {escape(base.name or result.dir.name)}</h1><p class=\"sub\">deepfeat compare "
        f"\u2014 {dt.datetime.now():%Y-%m-%d %H:%M} \u2014 {spec.seeds} seed(s) per variant \u2014 "
        f"<code>{escape(str(result.dir.resolve()))}</code></p></header>",
        _section("What varies", f"<ul>{grid}</ul>"),
        _section("Results (mean \u00b1 std over seeds)", _table(header, cells, set(range(1, len(cols) + 2)))),
        _section("Curves", _image(png) if png else '<p class="missing">No per-epoch metrics.</p>'),
        _section("Runs", f"<ul>{links}</ul>"),
    ]
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(result.dir.name)} \u2014 deepfeat comparison</title><style>{CSS}</style></head>\n"
            "<body><main>\n" + "\n".join(body) + "\n</main></body></html>\n")
    atomic_write(result.report, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    return result.report

