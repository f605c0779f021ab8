"""The run report: one self-contained ``report.html`` (inline CSS, images as data URIs, no JS).

It renders whatever the run directory holds and says what is missing, so an unfinished or crashed
run still gets a report (a failed run's says what stopped it). Every piece of text from the run is
escaped: configs and class names are user data. ``html_page``, ``html_section``, ``html_table`` and
``html_image`` are the building blocks other reports (``deepfeat compare``) reuse.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from html import escape
from pathlib import Path
from typing import Any, Callable

import yaml

from deepfeat.atomic import atomic_write
from deepfeat.errors import DeepfeatError
from deepfeat.layout import CONFIG_FILE, METRICS_FILE, PLOTS_DIR, REPORT_FILE, RESULTS_FILE, SUMMARY_FILE
from deepfeat.reports.figures import read_index
from deepfeat.reports.readers import Row, read_config, read_metrics, read_results
from deepfeat.reports.sounds import sounds_html
from deepfeat.reports.style import CSS

DASH = "\u2014"


def write_report(run_dir: str | os.PathLike[str], *, last_epochs: int = 5) -> Path:
    """Write ``run_dir/report.html`` from the run's files and return its path."""
    run = Path(run_dir)
    notices: list[str] = []
    results = _load(read_results, run, RESULTS_FILE, notices, "no test or evaluation results")
    rows = _load(read_metrics, run, METRICS_FILE, notices, "no per-epoch metrics")
    config = _load(read_config, run, CONFIG_FILE, notices, "the resolved config is not shown")
    try:
        entries = read_index(run)
    except (DeepfeatError, ValueError) as e:
        entries = []
        notices.append(f"{PLOTS_DIR}/index.json could not be read ({e}).")

    body = [
        _header(run),
        _failure(results or {}),
        "".join(f'<div class="notice">{escape(n)}</div>' for n in notices),
        _cards(results or {}, rows or []),
        _diagnostics(results or {}),
        _data(results or {}),
        _evaluations(results or {}),
        _plots(run, entries),
        _metrics(rows or [], last_epochs),
        _summary(run),
        _config(config),
    ]
    out = run / REPORT_FILE
    page = html_page(f"{run.resolve().name} {DASH} deepfeat report", body)
    atomic_write(out, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    return out


def html_page(title: str, body: list[str]) -> str:
    """A whole self-contained HTML page (house CSS inline) around already-escaped ``body`` blocks."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f"<style>{CSS}</style></head>\n<body><main>\n" + "\n".join(body) + "\n</main></body></html>\n"
    )


def _load(reader: Callable[[Path], Any], run: Path, file: str, notices: list[str], consequence: str) -> Any:
    try:
        value = reader(run)
    except DeepfeatError as e:
        notices.append(f"{file} could not be read, {consequence}: {e}")
        return None
    if value is None:
        notices.append(f"{file} not found: {consequence} (the run may be unfinished).")
    return value


def _fmt(key: str, value: Any) -> str:
    """Display text for a metric value: accuracies as percentages, floats to 4 significant digits."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if "acc" in key and 0.0 <= value <= 1.0:
            return f"{value:.2%}"
        return f"{value:.4g}"
    return str(value)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, float) and value.is_integer() else None


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return DASH
    minutes, secs = divmod(float(seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02.0f}s" if minutes else f"{secs:.1f} s"


def html_section(title: str, inner: str) -> str:
    """A titled report section around already-escaped HTML."""
    return f"<section><h2>{escape(title)}</h2>\n{inner}\n</section>"


def html_table(header: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    """An HTML table of already-escaped cells; the ``numeric`` columns align right."""
    def cls(i: int) -> str:
        return ' class="num"' if i in numeric else ""

    head = "".join(f"<th{cls(i)}>{h}</th>" for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _header(run: Path) -> str:
    files = (run / RESULTS_FILE, run / METRICS_FILE, run / CONFIG_FILE)
    stamps = [p.stat().st_mtime for p in files if p.exists()]
    when = dt.datetime.fromtimestamp(max(stamps)) if stamps else dt.datetime.now()
    return (
        f"<header><h1>{escape(run.resolve().name)}</h1>"
        f'<p class="sub">deepfeat run report {DASH} run of {when:%Y-%m-%d %H:%M} {DASH} '
        f"<code>{escape(str(run.resolve()))}</code></p></header>"
    )


def _cards(results: dict[str, Any], rows: list[Row]) -> str:
    fit, test = results.get("fit") or {}, results.get("test") or {}
    # An unfinished run has no "fit" summary yet; its last metrics row still tells how far it got.
    last = rows[-1] if rows else {}
    epochs = fit.get("epochs", _int(last.get("epoch")))
    time_s = fit.get("time_s", last.get("time_s"))
    best_key, best_value = next(iter((fit.get("best") or {}).items()), ("val metric", None))
    at = f"at epoch {fit['best_epoch']}" if fit.get("best_epoch") is not None else ""
    skipped = fit.get("skipped_steps")
    steps = f"{_fmt('', fit.get('steps'))} steps" if fit.get("steps") is not None else ""
    cards = [(c["label"], _fmt(str(c["key"]).rsplit(".", 1)[-1], c["value"]), "", "lead") for c in _headline(results)]
    if not cards and "test/acc" in test:  # a run written before learners declared their headline
        cards = [("test accuracy", _fmt("acc", test["test/acc"]), "", "lead")]
    if best_value is not None or not cards:  # a run that ranks no epochs (a GAN) has no best to show
        cards.append((f"best {best_key}", _fmt(best_key, best_value), at, ""))
    cards += [
        ("epochs", _fmt("", epochs), "stopped early" if fit.get("stopped_early") else "", ""),
        ("wall time", _duration(time_s), steps, ""),
        # Skipped steps mean non-finite losses: worth a warning colour when there are any.
        ("skipped steps", _fmt("", skipped), "non-finite losses", "warn" if skipped else ""),
    ]
    if fit.get("device"):
        layout = "channels_last" if fit.get("channels_last") else ""
        cards.append(("device", f"{fit['device']} {fit.get('precision', '')}".strip(), layout, ""))
    if fit.get("parameters") is not None:
        trainable = fit.get("trainable_parameters")
        note = f"{_count(trainable)} trainable" if trainable is not None and trainable != fit["parameters"] else ""
        cards.append(("parameters", _count(fit["parameters"]), note, ""))
    return '<div class="cards">' + "".join(
        f'<div class="card {cls}"><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div><div class="note">{escape(note)}</div></div>'
        for label, value, note, cls in cards
    ) + "</div>"


def _headline(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The learner's headline metrics recorded in results.json (``[{label, key, value}]``), well-formed ones only."""
    cards = results.get("headline")
    if not isinstance(cards, list):
        return []
    return [c for c in cards if isinstance(c, dict) and {"label", "key", "value"} <= c.keys()]


def _count(n: Any) -> str:
    """A parameter count as people say it: 1.2M, 35.1k, 812."""
    if not isinstance(n, (int, float)):
        return DASH
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(int(n))


def _failure(results: dict[str, Any]) -> str:
    """What stopped a failed, interrupted or pruned run: the error, where, and the checkpoint to look at."""
    status, error = results.get("status"), results.get("error")
    if status not in ("failed", "interrupted", "pruned") or not isinstance(error, dict):
        return ""
    after = error.get("phase") == "after training"
    where = escape(f"Training finished ({error.get('epoch', DASH)} epochs, {error.get('step', DASH)} steps); export or "
                   "evaluation then failed." if after else
                   f"It stopped in epoch {error.get('epoch', DASH)} (step {error.get('step', DASH)}).")
    checkpoint = error.get("last_checkpoint")
    saved = (f"The last checkpoint is <code>{escape(str(checkpoint))}</code>." if checkpoint
             else "No checkpoint was written before it stopped.")
    return html_section(f"Run {status} after training" if after else f"Training {status}", (
        f'<div class="notice"><strong>{escape(str(error.get("type", "Error")))}</strong>: '
        f'{escape(str(error.get("message", "")))}</div><p>{where} {saved} Test and evaluation results were not '
        "computed; the curves and diagnostics below cover the epochs that ran.</p>"))


def _diagnostics(results: dict[str, Any]) -> str:
    """The verdicts of ``diagnostics`` (when it was on): warnings highlighted, each with its remedy."""
    findings = results.get("diagnostics")
    if not isinstance(findings, list):
        return ""
    if not findings:
        return html_section("Diagnostics", "<p>No problems found: no dead or saturated units, vanishing or exploding "
                                       "gradients, loss spikes, plateau or overfitting.</p>")
    items = "".join(
        f'<div class="notice"><strong>{escape(str(f.get("severity", "")))}</strong> '
        f'{escape(str(f.get("layer") or ""))}{": " if f.get("layer") else ""}{escape(str(f.get("evidence", "")))}'
        f' <span class="small">({escape(str(f.get("cause", "")))})</span><br>\u2192 {escape(str(f.get("remedy", "")))}</div>'
        if isinstance(f, dict) else "" for f in findings)
    return html_section("Diagnostics", items)


def _data(results: dict[str, Any]) -> str:
    data = results.get("data")
    if not isinstance(data, dict):
        return html_section("Data", '<p class="missing">No data summary (results.json has no "data").</p>')
    shape = " \u00d7 ".join(str(s) for s in data.get("input_shape") or []) or DASH
    names = [str(n) for n in data.get("class_names") or []]
    shown = ", ".join(names[:12]) + (f", \u2026 ({len(names)} in all)" if len(names) > 12 else "")
    classes = f"{data.get('num_classes', len(names))}" + (f" ({shown})" if names else "")
    items = [("dataset", data.get("name") or DASH), ("kind", data.get("kind", DASH)),
             ("input shape", shape), ("classes", classes)]
    return html_section("Data", '<dl class="facts">' + "".join(
        f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in items) + "</dl>")


def _settings(settings: Any) -> str:
    if not isinstance(settings, dict) or not settings:
        return DASH
    return ", ".join(f"<code>{escape(str(k))}={escape(str(v))}</code>" for k, v in settings.items())


def _evaluations(results: dict[str, Any]) -> str:
    test = results.get("test") or {}
    rows = [["test set", escape(k), escape(_fmt(k, v)), DASH] for k, v in test.items()]
    for name, result in (results.get("evaluations") or {}).items():
        if not isinstance(result, dict):
            rows.append([escape(name), "", escape(_fmt(name, result)), DASH])
            continue
        # The settings once per evaluation, on its first row: they are the same for all its metrics.
        settings = f'<span class="small">{_settings(result.get("settings"))}</span>'
        for i, (key, value) in enumerate(_flatten(result)):
            rows.append([escape(name) if i == 0 else "", escape(key), escape(_fmt(key, value)), settings if i == 0 else ""])
    if not rows:
        return html_section("Results", '<p class="missing">No test or evaluation results recorded.</p>')
    header = ["evaluation", "metric", "value", "settings"]
    return html_section("Results", html_table(header, rows, numeric={2}))


def _flatten(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """Metric rows of one evaluation; nested dicts (e.g. ``accuracy_by_k``) become ``accuracy_by_k[5]`` rows."""
    rows: list[tuple[str, Any]] = []
    for key, value in result.items():
        if key == "settings":
            continue
        if isinstance(value, dict):
            rows += [(f"{key}[{k}]", v) for k, v in value.items()]
        else:
            rows.append((key, value))
    return rows


def html_image(path: Path) -> str:
    """A PNG file inlined as a data URI (the report stays one self-contained file)."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{escape(path.stem)}">'


def _plots(run: Path, entries: list[dict[str, str]]) -> str:
    plots = run / PLOTS_DIR
    sections: dict[str, list[str]] = {}
    listed = set()
    for e in entries:
        # Only a bare file name inside plots/: the index is data and must not point elsewhere.
        file = Path(str(e.get("file", ""))).name
        listed.add(file)
        png = plots / file
        if "sounds" in e:  # playable clips (deepfeat.reports.sounds) rather than a picture
            body = sounds_html(plots, e["sounds"])
        elif file.endswith(".png") and png.is_file():
            body = html_image(png)
        elif file.endswith(".html") and png.is_file():  # a page of its own (the feature explorer): linked
            body = f'<p><a class="page" href="{PLOTS_DIR}/{escape(file)}">Open {escape(file)}</a> (opens offline)</p>'
        else:
            body = f'<p class="missing">Missing plot file {escape(file)}.</p>'
        figure = _figure(str(e.get("title", file)), str(e.get("caption", "")), body)
        sections.setdefault(str(e.get("section", "Other plots")), []).append(figure)
    # PNGs saved without save_figure (no index entry) are still shown rather than silently dropped.
    for png in sorted(plots.glob("*.png")) if plots.is_dir() else []:
        if png.name not in listed:
            sections.setdefault("Other plots", []).append(_figure(png.stem, "", html_image(png)))
    if not sections:
        return html_section("Plots", '<p class="missing">No plots were saved for this run.</p>')
    return "\n".join(html_section(name, "\n".join(figs)) for name, figs in sections.items())


def _figure(title: str, caption: str, body: str) -> str:
    head = f"<figcaption><strong>{escape(title)}</strong> {escape(caption)}</figcaption>"
    return f"<figure>{head}{body}</figure>"


def _metrics(rows: list[Row], last: int) -> str:
    if not rows:
        return html_section("Metrics", '<p class="missing">No per-epoch metrics recorded.</p>')
    header = list(rows[0])
    tail = rows[-last:]
    cells = [[escape(_cell(k, r.get(k))) for k in header] for r in tail]
    title = f"Metrics (last {len(tail)} of {len(rows)} epochs)"
    numeric = set(range(len(header)))
    return html_section(title, html_table([escape(h) for h in header], cells, numeric))


def _cell(key: str, value: Any) -> str:
    # metrics.csv stores every number as text, so whole counts come back as floats.
    if isinstance(value, float) and key in ("epoch", "step") and value.is_integer():
        return str(int(value))
    if key == "lr" and isinstance(value, float):
        return f"{value:.3g}"
    return _fmt(key, value) if value is not None else ""


def _summary(run: Path) -> str:
    """The model summary written at the start of the run (layers, output shapes, parameters), folded."""
    path = run / SUMMARY_FILE
    if not path.is_file():
        return ""
    return html_section("Model", f"<details><summary>layers, output shapes and parameters</summary>"
                                 f"<pre>{escape(path.read_text(encoding='utf-8', errors='replace'))}</pre></details>")


def _config(config: Any) -> str:
    if config is None:
        return html_section("Config", '<p class="missing">No resolved config.</p>')
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return html_section("Config", f"<pre>{escape(text)}</pre>")
