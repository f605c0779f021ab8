"""What every run gets: test metrics, the feature protocols (probes), and the standard figures.

The probes are the pure functions of ``deepfeat.eval``; this module only extracts features with
the learner and records each result next to the settings that produced it. The confusion matrix is
a registered figure that classifiers declare.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepfeat.config import EvaluationConfig
from deepfeat.data.splits import DataBundle
from deepfeat.engine.device import Precision
from deepfeat.errors import TrainingError
from deepfeat.eval.evaluations import EVALUATIONS, evaluation_spec
from deepfeat.eval.protocol import resolve_protocols, run_protocol
from deepfeat.learners.base import Learner
from deepfeat.reports.figures import PALETTE, house_style, new_figure, save_figure
from deepfeat.reports.plots import confusion_matrix_plot, embedding_map
from deepfeat.run.outputs import SplitOutputs
from deepfeat.run.registries import RunContext, figure


@dataclass
class Features:
    """Features ``z (N, D)`` of the evaluation split, its labels and its per-sample metadata (``{name: (N,)}``)."""

    z: np.ndarray
    y: np.ndarray | None
    split: str = "test"
    groups: dict[str, np.ndarray] | None = None


def split_groups(data: DataBundle, split: str, n: int) -> dict[str, np.ndarray] | None:
    """The metadata of the first ``n`` samples of a split (the ones evaluated), when its source gives any."""
    part = data.splits().get(split)
    groups = part.groups if part is not None else None
    return {k: np.asarray(v)[:n] for k, v in groups.items()} if groups else None


def protocol_plan(cfg: EvaluationConfig) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The protocols a config runs and their settings (their entries of ``evaluation.settings``)."""
    names = resolve_protocols(cfg.protocol)
    settings: dict[str, dict[str, Any]] = {}
    for name, own in cfg.settings.items():
        if evaluation_spec(name, "evaluation.settings").on_features:  # the others are the run's evaluations'
            key = EVALUATIONS.canonical(name)
            settings[key] = {**settings.get(key, {}), **own}
    return names, settings


def check_protocols(data: DataBundle, cfg: EvaluationConfig) -> None:
    """Run the configured protocols on stand-in features (two random dimensions) with the labels they will read,
    before training: a setting the data cannot meet (``knn.k`` above the training samples, more shots than a
    class holds) fails now, not after training. Splits whose labels are streamed with their samples are skipped."""
    names, settings = protocol_plan(cfg)
    split = data.test if data.test is not None else data.val
    labels = [getattr(part, "y", None) for part in (data.train, split)]
    if not names or split is None or any(y is None for y in labels):
        return
    train_y, eval_y = (y[:cfg.max_samples].numpy() for y in labels)
    rng = np.random.default_rng(0)
    quiet = logging.getLogger("deepfeat")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # its "skipped" lines are said once, by the real evaluation
    try:
        run_protocol(rng.normal(size=(len(train_y), 2)), train_y, rng.normal(size=(len(eval_y), 2)), eval_y,
                     names, settings)
    finally:
        quiet.setLevel(level)


def feature_needs(data: DataBundle, cfg: EvaluationConfig, plots: bool = True) -> list[tuple[str, str]]:
    """What :func:`evaluate_learner` (and, with ``plots``, the embedding maps) will read: the evaluation split's
    metrics, its features when a protocol or a map uses them, the training features when a protocol trains on them."""
    if data.test is None and data.val is None:
        return []
    reads = {evaluation_spec(name).reads for name in protocol_plan(cfg)[0]}
    needs = [("eval", "metrics")]
    needs += [("eval", "embed")] if reads or (plots and cfg.embedding_plots) else []
    needs += [("train", "embed")] if "train+test" in reads else []
    return needs


def evaluate_learner(learner: Learner, data: DataBundle, cfg: EvaluationConfig, precision: Precision,
                     batch_size: int = 1024, outputs: SplitOutputs | None = None) -> tuple[dict[str, Any], Features | None]:
    """Test metrics and protocol results (``{"test": ..., "evaluations": ...}``) plus the features used.

    Reads the splits through ``outputs`` (one pass per split, shared with the run's other evaluations);
    the training split is forwarded only when a protocol trains on its features.
    """
    split_name = "test" if data.test is not None else "val"
    if data.test is None and data.val is None:
        return {"test": {}, "evaluations": {}}, None
    outputs = outputs or SplitOutputs(learner, data, precision, batch_size, cfg.max_samples).want(feature_needs(data, cfg))
    results: dict[str, Any] = {"test": outputs.metrics("eval")}
    names, settings = protocol_plan(cfg)
    for name in names:  # what the learner declares for an evaluation, unless the config says otherwise
        declared = {arg: getattr(learner, attr) for arg, attr in evaluation_spec(name).from_learner.items()}
        settings[name] = {**declared, **settings.get(name, {})}
    if not names:
        results["evaluations"] = {}
        return results, _features_if_read(outputs, split_name)
    z, y = outputs.get("eval", "embed")
    needs_train = any(evaluation_spec(n).reads == "train+test" for n in names)
    train_z, train_y = outputs.get("train", "embed") if needs_train else (np.zeros((0, z.shape[1]), np.float32), None)
    check_finite_features({"train": train_z, split_name: z})
    results["evaluations"] = run_protocol(train_z, train_y, z, y, names, settings, eval_split=split_name)
    return results, Features(z, y, split_name, split_groups(data, split_name, len(z)))


def _features_if_read(outputs: SplitOutputs, split_name: str) -> Features | None:
    """The evaluation split's features when they were declared (for the embedding maps), else None."""
    if "embed" not in outputs.wanted.get(split_name, ()):
        return None
    z, y = outputs.get("eval", "embed")
    check_finite_features({split_name: z})
    return Features(z, y, split_name, split_groups(outputs.data, split_name, len(z)))


def check_finite_features(features: dict[str, np.ndarray]) -> None:
    """Stop before any probe or plot sees NaN/inf features (t-SNE on NaN can kill the process), saying why."""
    for split, z in features.items():
        bad = int((~np.isfinite(z)).any(axis=1).sum()) if z.size else 0
        if bad:
            raise TrainingError(
                f"features of the {split} split are not finite for {bad} of {len(z)} samples: the trained network "
                "outputs NaN/inf (its activations overflowed or collapsed). No probe or plot was run on them. "
                "Lower the learning rate, add normalization (norm: batch), or run `deepfeat diagnose` on the config.")


def plot_features(run_dir: Path, features: Features, class_names: list[str], cfg: EvaluationConfig, seed: int = 0) -> list[Path]:
    """Embedding maps, one per method in ``cfg.embedding_plots``; a panel per metadata group of the samples."""
    paths = []
    groups = features.groups or {}
    extra = (f" The other panels show the same points coloured by {' and by '.join(groups)}: clusters there mean the "
             f"features also encode the {' and the '.join(groups)}.") if groups else ""
    for method in cfg.embedding_plots:
        fig = embedding_map(features.z, features.y, method=method, class_names=class_names or None, seed=seed,
                            groups=groups)
        paths.append(save_figure(
            fig, run_dir, f"embedding_{method}", title=f"Learned features ({method.upper()})", section="Features",
            caption=f"The {features.split} split's features projected to 2-D with {method.upper()}, coloured by label: "
                    f"well-separated clusters mean the features carry the class.{extra}"))
    return paths


@house_style
def fewshot_curve(result: dict[str, Any], full: float | None = None) -> Any:
    """Few-label curve: mean test accuracy (+- std over draws) against labelled samples per class."""
    # Keys are ints in memory and strings after a JSON round trip.
    acc = {int(k): v for k, v in result["accuracy_by_shots"].items()}
    std = {int(k): v for k, v in result["std_by_shots"].items()}
    shots = sorted(acc)
    fig = new_figure(6.0, 4.0)
    ax = fig.subplots()
    mean, err = np.array([acc[n] for n in shots]), np.array([std[n] for n in shots])
    ax.fill_between(shots, mean - err, mean + err, color=PALETTE[0], alpha=0.2, linewidth=0)
    ax.plot(shots, mean, "o-", color=PALETTE[0], label="linear probe on k labels per class")
    for n, m in zip(shots, mean):
        ax.annotate(f"{m:.1%}", (n, m), textcoords="offset points", xytext=(0, -14), ha="center", fontsize=8)
    if full is not None:
        ax.axhline(full, color=PALETTE[1], linestyle="--", label=f"all training labels ({full:.1%})")
    ax.set_xscale("log")
    ax.set_xticks(shots, [str(n) for n in shots])
    ax.minorticks_off()
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("labelled training samples per class (k)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Few-label accuracy (mean \u00b1 std over {result['settings']['draws']} draws)")
    ax.legend(loc="lower right")
    return fig


def plot_protocol(run_dir: Path, evaluations: dict[str, Any]) -> list[Path]:
    """Figures of protocol results: the few-label curve when the fewshot protocol ran."""
    result = evaluations.get("fewshot")
    if not result or not result["accuracy_by_shots"]:
        return []
    full = evaluations.get("linear_probe", {}).get("accuracy")
    fig = fewshot_curve(result, full)
    return [save_figure(
        fig, run_dir, "fewshot_curve", title="Few-label accuracy", section="Evaluation",
        caption="Test accuracy of a linear probe trained on k labelled samples per class (seeded draws; band: "
                "one std over draws). Features that reach the all-labels line with few labels transfer well.")]


@figure("confusion_matrix", needs=(("eval", "predict_proba"),))
def confusion_matrix(ctx: RunContext) -> list[Path]:
    """Predictions of a classifier on the evaluation split against the true classes."""
    name = ctx.eval_split()[0]
    probs, y = ctx.outputs.get("eval", "predict_proba")
    if y is None:
        return []
    fig = confusion_matrix_plot(y, probs.argmax(1), ctx.data.info.class_names or None)
    return [save_figure(fig, ctx.run_dir, "confusion_matrix", title="Confusion matrix", section="Evaluation",
                        caption=f"Predictions of the trained classifier on the {name} split (rows: true class).")]
