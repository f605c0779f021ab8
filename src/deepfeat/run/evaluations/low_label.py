"""Low-label evaluation of transfer: test accuracy against labelled samples per class.

For each number of labels per class (1, 5, 10, 50, all) three ways to use them are compared:
``scratch`` trains the same architecture from random weights, ``linear_probe`` fits a logistic
regression on the pretrained encoder's frozen features (:func:`deepfeat.eval.probes.linear_probe`),
``retrieval`` (on request) ranks the labelled samples' frozen features for each test sample and scores MAP@R
(:func:`deepfeat.eval.retrieval.retrieval_scores`; at 1 label per class, the 1-nearest-neighbour accuracy),
``fine_tune`` trains the pretrained encoder and a new head with the transfer learner's recipe (LP-FT:
the head starts as the linear probe's logistic regression, optionally trains alone for the first
``head_fraction`` of the steps, then everything trains with the encoder at a smaller rate). The
subsets are the per-class draws of :func:`deepfeat.eval.fewshot.draw_per_class`:
``repeats`` draws per budget, the same draws for every method, so differences between methods are
not differences between draws. Results give the mean over draws (``{method: {k: mean}}``), the
standard deviation (``std``) and every draw (``draws``). Networks train for a fixed number of
optimizer steps whatever the subset size (with a handful of labels there is nothing to hold out for
early stopping), with the one training loop (:class:`~deepfeat.engine.trainer.Trainer`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager

import numpy as np
import torch

from deepfeat.data.splits import DataBundle, TensorSplit
from deepfeat.engine.device import Precision
from deepfeat.engine.inference import collect, evaluate_split
from deepfeat.engine.progress import no_phases
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import ConfigError
from deepfeat.eval.fewshot import draw_per_class
from deepfeat.eval.probes import linear_probe
from deepfeat.eval.retrieval import retrieval_scores
from deepfeat.learners.build import build_learner
from deepfeat.learners.capabilities import Transfers
from deepfeat.registry import check_kwargs
from deepfeat.reports.figures import house_style, new_figure, save_figure
from deepfeat.run.registries import FIGURES, RunContext, evaluation

METHODS = ("scratch", "linear_probe", "fine_tune", "retrieval")
DEFAULT_METHODS = METHODS[:3]  # retrieval on request: it scores a ranking, not an accuracy
SCORES = {**dict.fromkeys(METHODS, "accuracy"), "retrieval": "MAP@R"}  # what each method's numbers are
# Methods that score the pretrained encoder's frozen features of a label draw against the test split's:
# (train_z, train_y, test_z, test_y, seed, metric) -> score.
FROZEN: dict[str, Callable[..., float]] = {
    "linear_probe": lambda ztr, ytr, zte, yte, seed, metric: linear_probe(ztr, ytr, zte, yte, seed=seed)["accuracy"],
    "retrieval": lambda ztr, ytr, zte, yte, seed, metric: retrieval_scores(ztr, ytr, zte, yte, k=[1], metric=metric)["map_at_r"],
}


@dataclass
class LowLabelConfig:
    """Settings of the low-label evaluation (the transfer learner's ``low_label`` mapping)."""

    labels_per_class: list[int | str] = field(default_factory=lambda: [1, 5, 10, 50, "all"])
    methods: list[str] = field(default_factory=lambda: list(DEFAULT_METHODS))
    steps: int = 300
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    repeats: int = 3
    head_fraction: float = 0.0

    def __post_init__(self) -> None:
        bad = [k for k in self.labels_per_class if k != "all" and not (isinstance(k, int) and k >= 1)]
        unknown = [m for m in self.methods if m not in METHODS]
        if bad or unknown or self.steps < 1 or self.repeats < 1 or not 0 <= self.head_fraction < 1:
            raise ConfigError(f"evaluation.settings.low_label: expected labels_per_class of integers >= 1 or 'all', "
                              f"methods from {', '.join(METHODS)}, steps >= 1, repeats >= 1 and 0 <= head_fraction < 1, "
                              f"got {bad or ''} {unknown or ''} steps={self.steps} repeats={self.repeats} "
                              f"head_fraction={self.head_fraction}")


def label_draws(y: np.ndarray, k: int | str, repeats: int, seed: int) -> list[np.ndarray]:
    """The training indices of each draw: ``repeats`` seeded per-class draws of ``k`` labels (one for 'all').

    One generator per (seed, k, draw): adding a budget or a draw never changes the others.
    """
    if k == "all":
        return [np.arange(len(y))]
    return [draw_per_class(y, int(k), np.random.default_rng([seed, int(k), r])) for r in range(repeats)]


def scratch_encoder(encoder: Any) -> Any:
    """The same architecture with random weights: a backbone spec with ``pretrained: false``."""
    if isinstance(encoder, Mapping) and str(encoder.get("name", "")).lower() == "backbone":
        return {**encoder, "pretrained": False}
    return encoder


def low_label_accuracy(data: DataBundle, encoder: Any, options: Mapping[str, Any] | LowLabelConfig,
                       transfer: Transfers, recipe: Mapping[str, Any] | None = None, precision: Precision | None = None,
                       phase: Callable[[str], ContextManager[Any]] = no_phases) -> dict[str, Any]:
    """Test accuracy ``{method: {k: mean}, "std": {"method@k": s}, "draws": {"method@k": [acc, ...]},
    "time_s": {"method@k": seconds, all draws}, "settings": {...}}``.

    Flat enough for the run report's results table (rows like ``fine_tune[5]``, ``std[fine_tune@5]``).
    ``transfer`` (a learner that ``transfers``) turns its ``recipe`` into the learner each method trains.
    Every method sees the same draws; ``all`` is one draw (every label) trained with each seed. ``phase``
    announces each training (a run's progress lines: ``low_label fine_tune 5/class draw 2/5  3.1s``).
    """
    cfg = options if isinstance(options, LowLabelConfig) else LowLabelConfig(**check_kwargs(LowLabelConfig, options, "learner.low_label"))
    test = data.test if data.test is not None else data.val
    if test is None or not isinstance(data.train, TensorSplit) or data.train.y is None:
        raise ConfigError("low-label evaluation: expected an in-memory labelled train split and a test or val split")
    y = data.train.y.numpy()
    smallest = int(np.bincount(y).min())
    counts = [k for k in cfg.labels_per_class if k == "all" or k <= smallest]
    draws: dict[str, list[float]] = {}
    secs: dict[str, float] = {}
    for k in counts:
        for r, idx in enumerate(label_draws(y, k, cfg.repeats, cfg.seed)):
            subset = DataBundle(data.info, data.train.take(torch.from_numpy(idx)))
            for method in cfg.methods:
                t0 = time.perf_counter()
                name = f"low_label {method} {k}/class" + ("" if k == "all" else f" draw {r + 1}/{cfg.repeats}")
                with phase(name):
                    acc = _run_method(method, data, subset, test, encoder, transfer, recipe or {}, precision, cfg,
                                      cfg.seed + r)
                draws.setdefault(f"{method}@{k}", []).append(round(acc, 4))
                secs[f"{method}@{k}"] = round(secs.get(f"{method}@{k}", 0.0) + time.perf_counter() - t0, 2)
    mean = {m: {str(k): round(float(np.mean(draws[f"{m}@{k}"])), 4) for k in counts} for m in cfg.methods}
    std = {key: round(float(np.std(values)), 4) for key, values in draws.items()}
    settings = {**asdict(cfg), "skipped": [k for k in cfg.labels_per_class if k not in counts],
                "train_samples": len(y), "eval_samples": len(test), "recipe": dict(recipe or {})}
    return {**mean, "std": std, "draws": draws, "time_s": secs, "settings": settings}


def _run_method(method: str, data: DataBundle, subset: DataBundle, test: Any, encoder: Any, transfer: Transfers,
                recipe: Mapping[str, Any], precision: Precision | None, cfg: LowLabelConfig, seed: int) -> float:
    if method in FROZEN:
        return _frozen(FROZEN[method], data, subset, test, encoder, transfer.recipe_spec("linear_probe", recipe),
                       precision, seed)
    scratch = method == "scratch"
    return _train(data, subset, test, scratch_encoder(encoder) if scratch else encoder, transfer, method, recipe,
                  precision, cfg, seed, 0.0 if scratch else cfg.head_fraction)


def accuracies(result: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The ``{method: {labels_per_class: accuracy}}`` part of a :func:`low_label_accuracy` result."""
    return {m: result[m] for m in METHODS if m in result}


def std_of(result: Mapping[str, Any], method: str, k: str) -> float:
    """Standard deviation over draws of ``method`` at ``k`` labels per class (0 for results without draws)."""
    return float(result.get("std", {}).get(f"{method}@{k}", 0.0))


def _train(data: DataBundle, subset: DataBundle, test: Any, encoder: Any, transfer: Transfers, method: str,
           recipe: Mapping[str, Any], precision: Precision | None, cfg: LowLabelConfig, seed: int,
           head_fraction: float) -> float:
    batch = min(cfg.batch_size, len(subset.train))
    per_epoch = subset.train.num_batches(batch)
    epochs = math.ceil(cfg.steps / per_epoch)
    spec = transfer.recipe_spec(method, recipe, seed=seed, head_epochs=round(head_fraction * epochs))
    learner = build_learner(spec, data.info, encoder)
    training = TrainingConfig(epochs=epochs, batch_size=batch, progress="none",
                              restore_best=False, monitor="train/loss", device=_device(precision),
                              precision=precision.name if precision else "auto")
    trainer = Trainer(training, seed=seed)
    trainer.fit(learner, subset, optimizer={"name": "adamw", "lr": cfg.lr, "weight_decay": 0.01})
    return evaluate_split(learner, test, "test", trainer.precision)["test/acc"]


def _frozen(score: Callable[..., float], data: DataBundle, subset: DataBundle, test: Any, encoder: Any,
            spec: Mapping[str, Any], precision: Precision | None, seed: int) -> float:
    """``score`` of the frozen features (the linear-probe learner's) of the draw and of the test split."""
    learner = build_learner(spec, data.info, encoder)
    precision = precision or Precision(torch.device("cpu"), None, False)
    learner.to(precision.device)
    train_z, train_y = collect(learner, subset.train, precision, learner.embed)
    test_z, test_y = collect(learner, test, precision, learner.embed)
    return float(score(train_z, train_y, test_z, test_y, seed, learner.neighbour_metric))


def _device(precision: Precision | None) -> str:
    return "auto" if precision is None else str(precision.device)


def low_label_table(result: Mapping[str, Any]) -> str:
    """A markdown table: one row per method, one column per labels-per-class count, mean +- std over draws."""
    acc = accuracies(result)
    counts = list(next(iter(acc.values())).keys())
    lines = ["| method | " + " | ".join(f"{k}/class" for k in counts) + " |", "|---" * (len(counts) + 1) + "|"]
    lines += [f"| {m} | " + " | ".join(f"{acc[m][k]:.3f} +- {std_of(result, m, k):.3f}" for k in counts) + " |"
              for m in acc]
    return "\n".join(lines)


@house_style
def low_label_figure(result: Mapping[str, Any]) -> Any:
    """Test accuracy against labels per class, one line per method ('all' drawn at the right end).

    Lines join the means over draws, error bars span +- one standard deviation and small dots show
    every draw. The numbers themselves are in the run report's results table (rows like ``fine_tune[5]``).
    """
    acc = accuracies(result)
    counts = list(next(iter(acc.values())).keys())
    fig = new_figure(6.0, 3.8)
    ax = fig.add_subplot()
    xs = np.arange(len(counts))
    per_draw = result.get("draws", {})
    offsets = np.linspace(-0.08, 0.08, len(acc)) if len(acc) > 1 else [0.0]
    for (method, values), dx in zip(acc.items(), offsets):
        ys = [values[k] for k in counts]
        errs = [std_of(result, method, k) for k in counts]
        line = ax.errorbar(xs + dx, ys, yerr=errs, marker="o", capsize=3, label=method.replace("_", " "))
        for x, k in zip(xs, counts):
            points = per_draw.get(f"{method}@{k}", [])
            ax.scatter(np.full(len(points), x + dx), points, s=8, alpha=0.45, color=line.lines[0].get_color())
    total = result.get("settings", {}).get("train_samples")
    ax.set_xticks(xs, [f"all\n({total} samples)" if k == "all" and total else str(k) for k in counts])
    ax.set_xlabel("labelled samples per class")
    ax.set_ylabel("test " + " / ".join(dict.fromkeys(SCORES[m] for m in acc)))
    # Zoomed to the data (in steps of 0.1): the gaps between methods are a few points wide.
    lowest = min([v for values in acc.values() for v in values.values()]
                 + [v for points in per_draw.values() for v in points])
    ax.set_ylim(max(0.0, math.floor(10 * lowest - 0.5) / 10), 1.01)
    ax.set_title("Accuracy with few labels")
    ax.legend(loc="lower right")
    return fig


def save_low_label_figure(result: Mapping[str, Any], run_dir: str | Path) -> Path:
    """Add the low-label plot to a run's report (section "Transfer")."""
    s = result["settings"]
    return save_figure(
        low_label_figure(result), run_dir, "low_label", title="Accuracy against labels per class", section="Transfer",
        caption=f"Test accuracy on {s['eval_samples']} samples when only k labelled samples per class are used: "
                f"scratch trains the same network from random weights, linear probe fits a logistic regression on the "
                f"pretrained features, fine-tune trains the pretrained network ({s['steps']} steps each; the head starts "
                f"as the linear probe, then all layers train). Mean over {s.get('repeats', 1)} label draws (the same draws for every method), "
                "error bars +- one standard deviation, dots the single draws. The gap at small k is what pretraining buys.")


@evaluation("low_label", requires=("transfers",), opt_in=True, outputs={**dict.fromkeys(METHODS, dict), "std": dict, "draws": dict,
                                               "time_s": dict})
def low_label(ctx: RunContext, *, labels_per_class: list[int | str] | None = None, methods: list[str] | None = None,
              steps: int = 300, batch_size: int = 64, lr: float = 1e-3, seed: int = 0, repeats: int = 3,
              head_fraction: float = 0.0) -> dict[str, Any]:
    """Scratch vs linear probe vs fine-tune of the run's encoder spec at 1, 5, 10, 50, all labels per class.

    Runs when the config gives ``evaluation.settings.low_label`` (each point trains networks: minutes).
    """
    options = LowLabelConfig(**{k: v for k, v in {"labels_per_class": labels_per_class, "methods": methods}.items()
                                if v is not None}, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                            repeats=repeats, head_fraction=head_fraction)
    transfer = ctx.learner
    return low_label_accuracy(ctx.data, ctx.config.encoder, options, transfer, transfer.recipe(ctx.config.learner),
                              ctx.precision, ctx.phase)


@FIGURES.register("low_label")
def low_label_plot(ctx: RunContext) -> list[Path]:
    """The low-label curve, when the low-label evaluation ran."""
    result = ctx.results.get("low_label")
    return [save_low_label_figure(result, ctx.run_dir)] if result else []
