"""``study.html``: a search's page, drawn by Optuna's own plotly figures, readable offline (plotly.js inline)."""

from __future__ import annotations

import datetime as dt
import logging
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from deepfeat.engine.checkpoint import atomic_write
from deepfeat.reports.html import html_page, html_section, html_table

if TYPE_CHECKING:
    import optuna

log = logging.getLogger("deepfeat")

# (title, optuna.visualization function name, caption)
FIGURES = (
    ("Optimization history", "plot_optimization_history",
     "Each complete trial's validation value, in the order the trials ran, and the best so far."),
    ("Parameter importances", "plot_param_importances",
     "How much of the variation of the validation value each searched key explains (Optuna's default importance evaluator)."),
    ("Parallel coordinates", "plot_parallel_coordinate",
     "Every complete trial as a line through its values; the colour is its validation value."),
    ("Intermediate values", "plot_intermediate_values",
     "The validation value per epoch of every trial, as reported to the pruner (pruned trials stop early)."),
)


def write_study_report(study: "optuna.Study", path: Path, monitor: str, best_test: dict[str, float]) -> Path:
    """Write the page: the best trial (validation value, then its test metrics), the figures, every trial's state."""
    import optuna.visualization as vis

    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    body = [f"<header><h1>Search: {escape(study.study_name)}</h1><p class=\"sub\">deepfeat tune \u2014 "
            f"{dt.datetime.now():%Y-%m-%d %H:%M} \u2014 trials: {escape(', '.join(f'{n} {s}' for s, n in counts.items()))}"
            f" \u2014 objective: {escape(monitor)} ({study.direction.name.lower()}), on validation data</p></header>",
            html_section("Best trial", _best(study, monitor, best_test))]
    first = True
    for title, fn, caption in FIGURES:
        html = _figure(getattr(vis, fn), study, include_js=first)
        first = first and html is None
        body.append(html_section(title, f"<p>{escape(caption)}</p>" + (html or '<p class="missing">Not enough complete '
                                                                              'trials for this figure yet.</p>')))
    text = html_page(f"{study.study_name} \u2014 deepfeat tune", body)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def _best(study: "optuna.Study", monitor: str, best_test: dict[str, float]) -> str:
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not complete:
        return '<p class="missing">No complete trial yet.</p>'
    best = study.best_trial
    rows = [[escape(k), escape(str(v))] for k, v in best.params.items()]
    rows += [[escape(f"{monitor} (validation, chose the trial)"), f"{best.value:.4f}"]]
    rows += [[escape(f"{k} (reported, not used to choose)"), f"{v:.4f}"] for k, v in best_test.items()]
    run_dir = best.user_attrs.get("run_dir")
    link = f'<p>Trial {best.number}: <a href="{escape(Path(run_dir).name)}/report.html">its run report</a>; ' \
           f'its config is in <code>best.yaml</code>.</p>' if run_dir else ""
    return link + html_table(["key", "value"], rows, {1})


def _figure(plot: Callable[..., Any], study: "optuna.Study", include_js: bool) -> str | None:
    """One Optuna figure as an HTML fragment (plotly.js inline with the first), or None when it cannot be drawn."""
    try:
        fig = plot(study)
    except (ValueError, RuntimeError) as e:  # too few complete trials for importances, no intermediate values, ...
        log.info(f"study report: {plot.__name__} skipped: {e}")
        return None
    if not fig.data:
        return None
    return fig.to_html(full_html=False, include_plotlyjs=include_js)
