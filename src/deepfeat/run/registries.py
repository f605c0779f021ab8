"""What a run produces after (and while) training, as registries: evaluations, figures, observers.

A learner declares by name what its run wants (``Learner.evaluations``, ``.figures``, ``.observers``);
the run layer looks each name up and calls it with one :class:`RunContext`. Evaluations live in the one
registry of :mod:`deepfeat.eval.evaluations` (the feature protocols are there too); figures and observers
here. Adding a family of learners means registering its entries in a file of its own, never editing the run layer:

    @evaluation("reconstruction", requires=("reconstructs",), outputs={"mse": float, "psnr": float})
    def reconstruction(ctx: RunContext) -> dict | None: ...      # -> results.json "evaluations"

    @FIGURES.register("reconstructions")
    def reconstructions(ctx: RunContext) -> list[Path]: ...      # -> plots/*.png and the report

    @OBSERVERS.register("gan_monitor")
    def gan_monitor(learner, run_dir) -> Observer: ...           # a callback that watches training

An evaluation's keyword-only arguments are its settings, given in the config as
``evaluation.settings.<name>`` and recorded with its result; ``opt_in`` evaluations (costly extra
trainings) run only when their settings are given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager

from deepfeat.config import Config
from deepfeat.data.splits import DataBundle
from deepfeat.engine.callbacks import Callback
from deepfeat.engine.device import Precision
from deepfeat.engine.progress import no_phases
from deepfeat.eval.evaluations import Extras, check_evaluation_settings, register_evaluation
from deepfeat.learners.base import Learner
from deepfeat.registry import Registry
from deepfeat.run.outputs import Need, SplitOutputs


@dataclass
class RunContext:
    """What an evaluation or a figure may use: the trained learner, its data, precision, config and folder.

    ``results`` holds the evaluations recorded so far, so a figure draws what an evaluation measured
    instead of measuring it again; ``outputs`` serves what they read of the splits (features,
    predictions, scores), each computed once (:class:`~deepfeat.run.outputs.SplitOutputs`).
    """

    learner: Learner
    data: DataBundle
    precision: Precision
    config: Config
    run_dir: Path | None = None
    results: dict[str, Any] = field(default_factory=dict)
    phase: Callable[[str], ContextManager[Any]] = no_phases  # announces a phase of work: `with ctx.phase("..."):`
    outputs: SplitOutputs | None = None

    def __post_init__(self) -> None:
        if self.outputs is None:
            self.outputs = SplitOutputs(self.learner, self.data, self.precision, self.config.training.eval_batch_size,
                                        self.max_samples)

    @property
    def max_samples(self) -> int:
        """At most this many samples of a split are evaluated (``evaluation.max_samples``)."""
        return self.config.evaluation.max_samples

    def eval_split(self) -> tuple[str, Any]:
        """The split evaluations use: ``("test", split)``, else validation, else training."""
        d = self.data
        return ("test", d.test) if d.test is not None else ("val", d.val) if d.val is not None else ("train", d.train)

    def calibration_split(self) -> tuple[str, Any]:
        """Clean held-out data for thresholds: validation, else training."""
        return ("val", self.data.val) if self.data.val is not None else ("train", self.data.train)


class Observer(Callback):
    """A callback a learner's run adds by name; it observes and may leave a summary in ``results.json``."""

    main_process_only = True  # it logs and draws: rank 0's job under torchrun

    def summary(self) -> dict[str, Any] | None:
        """What it saw, recorded under ``evaluations.<its name>``; ``None`` for nothing."""
        return None


Evaluation = Callable[..., "dict[str, Any] | None"]
Figure = Callable[[RunContext], "list[Path]"]
Applies = Callable[[RunContext], bool]

FIGURES: Registry[Figure] = Registry("figure", takes=1)
OBSERVERS: Registry[Observer] = Registry("observer", takes=2)
EVERY_RUN: list[str] = []  # figures drawn for every run (see figure(every_run=True))
# What each figure reads through ``ctx.outputs``, by registered name: (role, output) pairs.
NEEDS: dict[str, tuple[Need, ...]] = {}
# Whether a figure applies to a run (its data), by registered name; a figure without an entry always applies.
APPLIES: dict[str, Applies] = {}
# The extras each figure needs, by the same keys as NEEDS (an entry only where it needs some).
EXTRAS: dict[str, Callable[[RunContext], tuple[str, ...]]] = {}


def _declare_extras(key: str, extras: Extras) -> None:
    if extras:
        EXTRAS[key] = extras if callable(extras) else lambda ctx, fixed=tuple(extras): fixed


def evaluation(name: str, *, outputs: dict[str, type], requires: tuple[str, ...] = (), opt_in: bool = False,
               description: str | None = None, needs: tuple[Need, ...] = (),
               extras: Extras = ()) -> Callable[[Evaluation], Evaluation]:
    """Register an evaluation of a run ``fn(ctx, *, **settings) -> {metric: value, ..., "settings": {...}} | None``
    in the one evaluation registry (:func:`~deepfeat.eval.evaluations.register_evaluation`): ``outputs`` the typed
    keys it writes, ``requires`` the capabilities the learner must declare, ``needs`` the ``(role, output)`` pairs
    it reads through ``ctx.outputs``, ``extras`` the optional extras it imports (or ``extras(ctx)``, those it needs
    for the run's data), checked before training."""
    return register_evaluation(name, reads="run", outputs=outputs, requires=requires, needs=needs, extras=extras,
                               opt_in=opt_in, description=description)


def figure(name: str, *, needs: tuple[Need, ...] = (), description: str | None = None,
           every_run: bool = False, applies: Applies | None = None, extras: Extras = ()) -> Callable[[Figure], Figure]:
    """Register a figure ``fn(ctx) -> [paths]``; ``needs`` are the ``(role, output)`` pairs it reads through ``ctx.outputs``.

    An ``every_run`` figure is drawn for every run, whatever its learner declares. ``applies(ctx)`` says whether
    the run's data call for the figure at all (e.g. a sound figure: data with a sample rate); one that does not
    apply is skipped before it is announced or its outputs computed. ``extras`` as for :func:`evaluation`.
    """
    def deco(fn: Figure) -> Figure:
        FIGURES.add(name, fn, description=description)
        NEEDS[f"figure:{name}"] = tuple(needs)
        _declare_extras(f"figure:{name}", extras)
        if every_run:
            EVERY_RUN.append(name)
        if applies is not None:
            APPLIES[name] = applies
        return fn

    return deco


def check_settings(config: Config) -> None:
    """Every ``evaluation.settings`` entry names a registered evaluation and gives only its settings. Called before
    a run folder exists (and by ``deepfeat config check``), so a typo fails at once, not after training."""
    check_evaluation_settings(config.evaluation.settings)
