"""Carry out what a learner declares for its run: its observers, evaluations, figures and headline.

The one place that reads ``Learner.observers`` / ``.evaluations`` / ``.figures`` / ``.headline``; each
name is looked up in :mod:`deepfeat.run.registries`, so a new family of learners needs no edit here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepfeat.eval.evaluations import evaluation_spec
from deepfeat.extras import require
from deepfeat.learners.base import Learner
from deepfeat.run.outputs import Need
from deepfeat.run.registries import APPLIES, EVERY_RUN, EXTRAS, FIGURES, NEEDS, OBSERVERS, Observer, RunContext


def build_observers(learner: Learner, run_dir: Path | None) -> dict[str, Observer]:
    """The observers the learner's run declares, by name, ready to be passed to the trainer as callbacks."""
    return {name: OBSERVERS.get(name, "learner observers")(learner, run_dir) for name in learner.observers}


def observer_results(observers: dict[str, Observer]) -> dict[str, Any]:
    """What each observer saw, for ``results.json`` (those with nothing to say are left out)."""
    return {name: summary for name, obs in observers.items() if (summary := obs.summary()) is not None}


def _will_run(ctx: RunContext) -> list[str]:
    """The declared evaluations this run executes (an opt-in one only when the config gives its settings)."""
    return [name for name in ctx.learner.evaluations
            if not evaluation_spec(name, "learner evaluations").opt_in
            or ctx.config.evaluation.settings.get(name) is not None]


def _declared_figures(ctx: RunContext, figures: bool) -> list[str]:
    """The ``figure:<name>`` keys of the figures this run will draw (none without ``figures``)."""
    return [f"figure:{FIGURES.canonical(n)}" for n in _figures(ctx)] if figures else []


def declared_needs(ctx: RunContext, figures: bool = True) -> list[Need]:
    """What the evaluations (and, with ``figures``, the figures) of this run will read through ``ctx.outputs``."""
    needs = [need for name in _will_run(ctx) for need in evaluation_spec(name).needs]
    return needs + [need for key in _declared_figures(ctx, figures) for need in NEEDS.get(key, ())]


def check_extras(ctx: RunContext, figures: bool = True) -> None:
    """ConfigError, in one line naming the extras, when an evaluation or figure this run will execute needs an
    optional extra that is not installed: called before training, so the run does not fail after it."""
    extras: dict[str, list[str]] = {}
    for name in _will_run(ctx):
        spec = evaluation_spec(name)
        for extra in spec.extras_for(ctx):
            extras.setdefault(extra, []).append(f"evaluation {spec.name}")
    for key in _declared_figures(ctx, figures):
        for extra in EXTRAS[key](ctx) if key in EXTRAS else ():
            extras.setdefault(extra, []).append(key.replace(":", " "))
    require(extras, f"learner {ctx.config.learner['name']}")


def _figures(ctx: RunContext) -> list[str]:
    """The figures every run draws (the data first), then the learner's declared ones; of those, the ones that apply
    to the run (their declared ``applies``)."""
    declared = [FIGURES.canonical(n) for n in ctx.learner.figures]
    figures = [n for n in EVERY_RUN if n not in declared] + declared
    return [n for n in figures if n not in APPLIES or APPLIES[n](ctx)]


def run_evaluations(ctx: RunContext) -> dict[str, Any]:
    """Run the learner's declared evaluations with their configured settings; results go into ``ctx.results``.

    An opt-in evaluation (one that trains networks of its own) runs only when the config gives its
    settings (``evaluation.settings.<name>``).
    """
    for name in _will_run(ctx):
        spec = evaluation_spec(name, "learner evaluations")
        kwargs = spec.check_settings(ctx.config.evaluation.settings.get(name), f"evaluation.settings.{name}")
        with ctx.phase(f"evaluation {name}"):
            result = spec.fn(ctx, **kwargs)
        if result is not None:
            ctx.results[name] = result
    return ctx.results


def draw_figures(ctx: RunContext) -> list[Path]:
    """Draw the learner's declared figures and the every-run figures into the run folder; returns the files written."""
    paths: list[Path] = []
    for name in _figures(ctx):
        figure = FIGURES.get(name, "learner figures")
        with ctx.phase(f"figure {name}"):
            paths += figure(ctx)
    return paths


def headline(learner: Learner, results: dict[str, Any]) -> list[dict[str, Any]]:
    """The learner's headline metrics found in ``results`` (a missing one, e.g. ROC-AUC of a run that is not
    one-class, is left out): ``[{"label", "key", "value"}]`` for the report's cards and the terminal."""
    cards = []
    for label, key in learner.headline:
        value: Any = results
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            cards.append({"label": label, "key": key, "value": value})
    return cards
