"""Few-label benchmark: label-free pretraining on the unlabelled training pool, then 1 / 5 / 10 / 50 labels per class.

For each problem (images: MNIST; audio: FSDD, a held-out speaker; series: the UCR problems aeon ships; text: SMS
spam) the same encoder is

- trained from scratch on the labelled draw only (``scratch``);
- pretrained with labels on a related labelled source, where one exists offline (``supervised``: FSDD's speaker
  identities of the training recordings; none for the others);
- pretrained without labels on the whole training split with SimCLR, VICReg and the masked autoencoder (``mae``);

and every pretrained encoder is used twice: a linear probe of its frozen features (``probe``) and fine-tuned with
the transfer learner's recipe (``fine_tune``). The label draws are :func:`deepfeat.run.evaluations.low_label.label_draws`'s,
seeded by (seed, labels per class, draw): the same draws for every method. Each cell is the mean and std of the test
accuracy over the draws. SimCLR and VICReg see text through the ``tokens`` augmentation and the masked autoencoder
hides 15% of its tokens (BERT's share); a method that does not apply to a data kind is listed with the reason.

Training time: every fine-tune (and scratch) also trains once on all labels, the test accuracy measured after each
epoch; the table gives the wall time each needs to reach scratch's full-label accuracy minus 1 point (its last
epoch's), without and with its pretraining time.

    python benchmarks/bench_few_labels.py --quick      # tiny subsets, 2 draws: a couple of minutes, a smoke test
    python benchmarks/bench_few_labels.py              # the full pools, 5 draws (hours on 2 CPU cores)
    python benchmarks/bench_few_labels.py --mnist      # MNIST, 5 labels per class: the cheapest recipe (few_labels_mnist.py)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from _common import table, write_result
from few_labels_mnist import LABELS as LABELS_MNIST
from few_labels_mnist import RECIPES, mnist_rows, run_mnist

from deepfeat.data.datasets import load_dataset
from deepfeat.data.splits import DataBundle
from deepfeat.engine.seeding import seed_everything
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import ConfigError, DataError
from deepfeat.learners.build import build_learner
from deepfeat.run.evaluations.low_label import LowLabelConfig, low_label_accuracy, scratch_encoder
from deepfeat.run.model_io import export_model

LABEL_FREE = {
    "simclr": {"name": "simclr", "temperature": 0.2, "projection_dim": 64},
    "vicreg": {"name": "vicreg"},
    "mae": {"name": "mae"},
}
HARDWARE = "2-core AMD EPYC, no AMX, shared with other jobs"


@dataclass
class Problem:
    """A target problem: its data, encoder, and (where one exists offline) a labelled source for ``supervised``."""

    data: dict[str, Any]
    encoder: dict[str, Any]
    quick: dict[str, Any] = field(default_factory=dict)  # data settings that make the quick subset
    source: dict[str, Any] | None = None
    learner: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-method settings for this data
    budget: dict[str, Any] = field(default_factory=dict)  # full mode: this problem's departures from the budget
    full: dict[str, Any] = field(default_factory=dict)  # full mode: data settings (e.g. a test subset)


FSDD = {"name": "fsdd", "split": "speaker", "test_speaker": "jackson"}
AUDIO = {"name": "audio", "sample_rate": 8000, "frontend": {"name": "mfcc", "n_mels": 40, "n_mfcc": 20},
         "backbone": {"name": "tcn", "channels": [32, 32, 32], "kernel_size": 5, "norm": "batch"}}
TCN = {"name": "tcn", "channels": [32, 32, 32], "kernel_size": 7, "norm": "batch"}
PROBLEMS: dict[str, Problem] = {
    # 60k unlabelled images: one pretraining epoch (469 steps), three on all labels for the timing; 2,000 test images.
    "mnist": Problem({"name": "mnist"}, {"name": "cnn", "channels": [32, 64, 128], "norm": "batch", "pool": "max"},
                     {"limit": 1000, "test_limit": 500}, budget={"pretrain_epochs": 1, "full_epochs": 3},
                     full={"test_limit": 2000}),
    "fsdd": Problem(FSDD, AUDIO, {"limit": 500, "test_limit": 200}, source={**FSDD, "target": "speaker"},
                    learner={"simclr": {"augment": {"name": "audio"}}, "vicreg": {"augment": {"name": "audio"}}},
                    budget={"pretrain_epochs": 10, "full_epochs": 10}),
    "GunPoint": Problem({"name": "ucr", "problem": "GunPoint"}, TCN),
    "ItalyPowerDemand": Problem({"name": "ucr", "problem": "ItalyPowerDemand"}, TCN),
    "BasicMotions": Problem({"name": "ucr", "problem": "BasicMotions"}, TCN),
    "JapaneseVowels": Problem({"name": "ucr", "problem": "JapaneseVowels_eq"}, TCN),
    "sms": Problem({"name": "sms_spam", "tokenizer": {"name": "word", "max_length": 48, "min_freq": 2, "max_size": 8000}},
                   {"name": "text_rnn", "vocab_size": 8000, "embed_dim": 64, "cell": "gru", "hidden_size": 64,
                    "bidirectional": True}, {"limit": 1500},
                   learner={"simclr": {"augment": {"name": "tokens"}}, "vicreg": {"augment": {"name": "tokens"}},
                            "mae": {"mask_ratio": 0.15}}, budget={"pretrain_epochs": 10, "full_epochs": 8}),
}
KINDS = {"mnist": "images", "fsdd": "audio", "GunPoint": "series", "ItalyPowerDemand": "series",
         "BasicMotions": "series", "JapaneseVowels": "series", "sms": "text"}
QUICK = ["mnist", "fsdd", "GunPoint", "sms"]


@dataclass
class Budget:
    """How much each step trains: pretraining epochs, low-label steps, full-label epochs, draws and budgets."""

    pretrain_epochs: int
    steps: int
    full_epochs: int
    draws: int
    labels: list[int]
    batch_size: int = 128
    threads: int = 1
    lr: float = 2e-3


def load(problem: Problem, quick: bool, source: bool = False) -> DataBundle:
    spec = problem.source if source else problem.data
    return load_dataset({**spec, **(problem.quick if quick else {} if source else problem.full)}, val_fraction=0.0)


def pretrain(method: str, spec: dict[str, Any], data: DataBundle, encoder: dict[str, Any], budget: Budget,
             out: Path) -> dict[str, Any]:
    """Train ``spec`` on ``data``'s training split (its labels unused unless it is the classifier); export to ``out``."""
    seed_everything(0)
    learner = build_learner(spec, data.info, encoder)
    config = TrainingConfig(epochs=budget.pretrain_epochs, batch_size=min(budget.batch_size, len(data.train)),
                            progress="none", monitor="train/loss", restore_best=False, threads=budget.threads)
    fit = Trainer(config, seed=0).fit(learner, DataBundle(data.info, data.train), optimizer={"name": "adamw", "lr": budget.lr},
                                      schedule={"name": "cosine"})
    export_model(learner, data.info, spec, encoder, out)
    last = fit.history[-1]
    return {"method": method, "time_s": round(fit.time_s, 1), "steps": fit.steps, "final_loss": round(last["train/loss"], 4),
            "health": {k.split("/", 1)[1]: round(v, 4) for k, v in last.items()
                       if k.split("/")[-1] in ("feature_std", "effective_rank", "embedding_std")}}


def time_to_target(data: DataBundle, encoder: Any, args: dict[str, Any], budget: Budget) -> list[tuple[float, float]]:
    """``[(seconds, test accuracy)]`` after each epoch of training on all labels (test used for timing only)."""
    seed_everything(0)
    learner = build_learner({"name": "transfer", "mode": "fine_tune", **args}, data.info, encoder)
    config = TrainingConfig(epochs=budget.full_epochs, batch_size=64, progress="none", monitor="val/acc", mode="max",
                            restore_best=False, threads=1)
    fit = Trainer(config, seed=0).fit(learner, DataBundle(data.info, data.train, val=data.test),
                                      optimizer={"name": "adamw", "lr": 1e-3, "weight_decay": 0.01})
    return [(round(row["time_s"], 2), round(row["val/acc"], 4)) for row in fit.history]


def first_time(curve: list[tuple[float, float]], target: float) -> float | None:
    return next((t for t, acc in curve if acc >= target), None)


def validation_split(data: DataBundle, fraction: float = 0.2, cap: int = 2000) -> DataBundle:
    """The training split cut in two, seeded: draws come from the first part, accuracy is read on the second (the
    test split is never read). The pretraining saw both parts without their labels, as it saw the whole pool."""
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(1))
    held = min(cap, max(1, round(fraction * len(order))))
    return DataBundle(data.info, data.train.take(order[held:]), test=data.train.take(order[:held]))


def choose_on_validation(data: DataBundle, problem: Problem, backbones: dict[str, Any], budget: Budget) -> dict[str, Any]:
    """Validation accuracy of every (method, use) at 5 labels per class (fewer where a class has fewer), 3 draws
    seeded apart from the test draws, and the best pair: the choice the per-kind recommendations rest on."""
    val = validation_split(data)
    k = min(5, int(torch.bincount(val.train.y).min()))
    scores: dict[str, float] = {}
    for method, encoder in {"scratch": problem.encoder, **backbones}.items():
        uses = ["scratch"] if method == "scratch" else ["linear_probe", "fine_tune"]
        options = LowLabelConfig(labels_per_class=[k], methods=uses, steps=budget.steps, repeats=3, seed=1)
        result = low_label_accuracy(val, encoder, options, build_learner("transfer", data.info, encoder))
        scores.update({method if use == "scratch" else f"{method} {use}": result[use][str(k)] for use in uses})
    best = max(scores, key=scores.__getitem__)
    return {"labels_per_class": k, "draws": 3, "validation_samples": len(val.test), "accuracy": scores, "chosen": best}


def run_problem(name: str, problem: Problem, budget: Budget, quick: bool, work: Path) -> dict[str, Any]:
    data = load(problem, quick)
    if not quick:
        budget = Budget(**{**budget.__dict__, **problem.budget})
    options = LowLabelConfig(labels_per_class=list(budget.labels), methods=["scratch"], steps=budget.steps,
                             repeats=budget.draws)
    out: dict[str, Any] = {"train_samples": len(data.train), "test_samples": len(data.test), "pretraining": {},
                           "not_applicable": {}, "cells": {}}
    scratch = low_label_accuracy(data, problem.encoder, options, build_learner("transfer", data.info, problem.encoder))
    out["cells"]["scratch"] = scratch
    curves = {"scratch": time_to_target(data, scratch_encoder(problem.encoder),
                                        {"encoder_lr": 1.0, "head_init": "random"}, budget)}
    backbones: dict[str, Any] = {}
    starts: dict[str, tuple[dict[str, Any], DataBundle]] = {method: ({**spec, **problem.learner.get(method, {})}, data)
                                                            for method, spec in LABEL_FREE.items()}
    if problem.source is not None:
        starts = {"supervised": ({"name": "classifier"}, load(problem, quick, source=True)), **starts}
    for method, (spec, pool) in starts.items():
        backbone = {"name": "backbone", "source": str(work / f"{name}-{method}")}
        try:
            out["pretraining"][method] = pretrain(method, spec, pool, problem.encoder, budget, work / f"{name}-{method}")
            ways = LowLabelConfig(**{**options.__dict__, "methods": ["linear_probe", "fine_tune", "retrieval"]})
            out["cells"][method] = low_label_accuracy(data, backbone, ways, build_learner("transfer", data.info, backbone))
            curves[method] = time_to_target(data, backbone, {}, budget)
            backbones[method] = backbone
        except (ConfigError, DataError) as e:  # the method (or reusing its encoder) does not apply to this data
            out["not_applicable"][method] = str(e)
    out["validation"] = choose_on_validation(data, problem, backbones, budget)
    out["budget"] = budget.__dict__
    target = curves["scratch"][-1][1] - 0.01
    out["target_accuracy"] = round(target, 4)
    out["time_to_target"] = {}
    for method, curve in curves.items():
        seconds = first_time(curve, target)
        pretraining = out["pretraining"][method]["time_s"] if method in out["pretraining"] else 0.0
        out["time_to_target"][method] = {"fine_tune_s": seconds, "curve": curve, "with_pretraining_s":
                                         None if seconds is None else round(seconds + pretraining, 1)}
    return out


def rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (problem, method, way of using the labels): mean +- std per labels-per-class cell."""
    table_rows = []
    for problem, res in results.items():
        for method, cells in res["cells"].items():
            for way, key in (("probe", "linear_probe"), ("fine-tune", "fine_tune"), ("retrieval MAP@R", "retrieval"),
                             ("scratch", "scratch")):
                if key not in cells:
                    continue
                row = {"problem": problem, "method": method, "use": way}
                for k, mean in cells[key].items():
                    row[f"{k}/class"] = f"{mean:.3f} +- {cells['std'][f'{key}@{k}']:.3f}"
                table_rows.append(row)
        for method, why in res["not_applicable"].items():
            table_rows.append({"problem": problem, "method": method, "use": "n/a", "why": why.split(". ")[0]})
    return table_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny subsets, 2 draws, 1 and 5 labels per class")
    parser.add_argument("--problems", nargs="*", default=None, help=f"of {', '.join(PROBLEMS)}")
    parser.add_argument("--draws", type=int, default=None)
    parser.add_argument("--page", nargs="*", type=Path, default=None,
                        help="print the documentation's tables from these result files (runs of different problems)")
    parser.add_argument("--tag", default="", help="suffix of the result file (runs of different problems side by side)")
    parser.add_argument("--mnist", action="store_true", help="MNIST, 5 labels per class: the cheapest label-free recipe")
    parser.add_argument("--work", type=Path, default=None, help="--mnist: a folder that keeps (and reuses) the encoder")
    parser.add_argument("--recipe", default="small", choices=list(RECIPES), help="--mnist: the pretraining recipe")
    a = parser.parse_args()
    if a.page is not None:
        return print(page({k: v for f in a.page for k, v in json.loads(f.read_text())["results"].items()}))
    torch.set_num_threads(1)
    if a.mnist:
        return mnist_main(a.work, a.recipe)
    budget = (Budget(pretrain_epochs=1, steps=20, full_epochs=2, draws=2, labels=[1, 5], batch_size=64) if a.quick else
              Budget(pretrain_epochs=30, steps=300, full_epochs=15, draws=5, labels=[1, 5, 10, 50]))
    budget.draws = a.draws or budget.draws
    names = a.problems or (QUICK if a.quick else list(PROBLEMS))
    results: dict[str, Any] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        for name in names:
            print(f"{name} ...", flush=True)
            results[name] = run_problem(name, PROBLEMS[name], budget, a.quick, Path(work))
            report(results, names, budget, a, t0)  # after each problem: a stopped run keeps what it finished


def report(results: dict[str, Any], names: list[str], budget: Budget, a: argparse.Namespace, t0: float) -> None:
    """Print the tables and write the result file."""
    labels = [f"{k}/class" for k in budget.labels]
    accuracy = table(rows(results), ["problem", "method", "use", *labels, "why"])
    timing = table([{"problem": p, "method": m, "target": r["target_accuracy"],
                     **{k: "not reached" if v is None else v for k, v in t.items() if k != "curve"}}
                    for p, r in results.items() for m, t in r["time_to_target"].items()],
                   ["problem", "method", "target", "fine_tune_s", "with_pretraining_s"])
    choice = table([{"problem": p, "kind": KINDS[p], "labels/class": r["validation"]["labels_per_class"],
                     "chosen": r["validation"]["chosen"], **{m: round(v, 3) for m, v in r["validation"]["accuracy"].items()}}
                    for p, r in results.items()],
                   ["problem", "kind", "labels/class", "chosen", *dict.fromkeys(
                       m for r in results.values() for m in r["validation"]["accuracy"])])
    print(accuracy, "\n\nSeconds to reach scratch's full-label accuracy - 1 point:\n" + timing,
          "\n\nValidation draws (the training split cut in two; test never read):\n" + choice, sep="", flush=True)
    path = write_result(("few_labels_quick" if a.quick else "few_labels") + (f"_{a.tag}" if a.tag else ""), {
        "hardware": HARDWARE, "quick": a.quick, "budget": budget.__dict__, "problems": {n: PROBLEMS[n].__dict__ for n in names},
        "results": results, "table": accuracy, "time_table": timing, "validation_table": choice,
        "load_average": os.getloadavg(), "total_s": round(time.perf_counter() - t0, 1)})
    print(f"written to {path}")


def recommend(results: dict[str, Any]) -> dict[str, tuple[str, float]]:
    """Per data kind, the (method, use) with the best validation accuracy, averaged over the kind's problems."""
    by_kind: dict[str, dict[str, list[float]]] = {}
    for name, res in results.items():
        for choice, acc in res["validation"]["accuracy"].items():
            by_kind.setdefault(KINDS[name], {}).setdefault(choice, []).append(acc)
    means = {kind: {c: sum(v) / len(v) for c, v in choices.items()} for kind, choices in by_kind.items()}
    return {kind: max(m.items(), key=lambda item: item[1]) for kind, m in means.items()}


def page(results: dict[str, Any]) -> str:
    """The benchmark page's tables: test accuracy per problem, time to target, validation choices per kind."""
    labels = sorted({k for r in results.values() for c in r["cells"].values() for k in c.get("scratch", c.get("fine_tune", {}))},
                    key=int)
    parts = []
    for name, res in results.items():
        budget = res["budget"]
        parts.append(f"**{name}** ({KINDS[name]}; {res['train_samples']} training samples, {res['test_samples']} test; "
                     f"{budget['pretrain_epochs']} pretraining epoch{'s' * (budget['pretrain_epochs'] > 1)}, {budget['steps']} steps per low-label training, "
                     f"{budget['draws']} draws):\n")
        why = ["why"] if res["not_applicable"] else []
        parts.append(table([{k: v for k, v in row.items() if k != "problem"} for row in rows({name: res})],
                           ["method", "use", *[f"{k}/class" for k in labels], *why]) + "\n")
    parts.append("Seconds of training on all labels to reach scratch's full-label accuracy minus 1 point (pretraining "
                 "time added in the second number):\n")
    parts.append(table([{"problem": p, "target": r["target_accuracy"], **{
        m: "not reached" if t["fine_tune_s"] is None else f"{t['fine_tune_s']:.3g} ({t['with_pretraining_s']:.3g})"
        for m, t in r["time_to_target"].items()}} for p, r in results.items()],
        ["problem", "target", *dict.fromkeys(m for r in results.values() for m in r["time_to_target"])]) + "\n")
    parts.append("Validation accuracy (labels drawn from one part of the training split, accuracy on the other):\n")
    parts.append(table([{"problem": p, "labels/class": r["validation"]["labels_per_class"], "chosen": r["validation"]["chosen"],
                         **{m: f"{v:.3f}" for m, v in r["validation"]["accuracy"].items()}} for p, r in results.items()],
                       ["problem", "labels/class", "chosen", *dict.fromkeys(
                           m for r in results.values() for m in r["validation"]["accuracy"])]) + "\n")
    parts.append(table([{"kind": kind, "chosen on validation": choice, "mean validation accuracy": f"{acc:.3f}"}
                        for kind, (choice, acc) in recommend(results).items()],
                       ["kind", "chosen on validation", "mean validation accuracy"]))
    return "\n".join(parts)


def mnist_main(work: Path | None, recipe: str) -> None:
    """``--mnist``: SimCLR for 3 epochs on 60k images at 2 threads, 5 draws (see few_labels_mnist.py)."""
    torch.set_num_threads(2)
    settings = RECIPES[recipe]
    budget = Budget(pretrain_epochs=3, steps=300, full_epochs=0, draws=5, labels=LABELS_MNIST,
                    batch_size=settings["batch_size"], threads=2, lr=settings["lr"])
    t0 = time.perf_counter()

    def save(result: dict[str, Any]) -> None:
        text = table(mnist_rows(result), ["method", *[f"{k}/class" for k in LABELS_MNIST]])
        print(text, flush=True)
        path = write_result(f"few_labels_mnist_{recipe}", {
            "hardware": HARDWARE, "budget": budget.__dict__, "result": result, "table": text,
            "load_average": os.getloadavg(), "total_s": round(time.perf_counter() - t0, 1)})
        print(f"written to {path}", flush=True)

    with tempfile.TemporaryDirectory() as temporary:
        run_mnist(pretrain, budget, work or Path(temporary), recipe, save)


if __name__ == "__main__":
    main()
