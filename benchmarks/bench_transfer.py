"""Transfer benchmark (issue 6): pretrain on MNIST, transfer to scikit-learn's 8x8 digits with few labels.

0. The source is made to look like the target (``--source mnist_8x8``, the default): MNIST's 20x20 digit box
   averaged down to 8x8 with digits' 17 grey levels, so pretraining and transfer both run at digits' own size.
   ``--source mnist`` pretrains on 28x28 MNIST and upscales digits to 28x28 in the backbone (bilinear): blurry
   blobs that fill the frame, unlike any MNIST image; the linear probe of those features is no better than
   logistic regression on digits' raw pixels (see docs/benchmarks/transfer.md).
1. Pretrain the same CNN on MNIST twice: supervised (labels) and SimCLR (no labels). Both are scored
   by a linear probe on MNIST (logistic regression on the frozen features of the 60k training images,
   tested on the 10k test images; published: ~98-99% for SimCLR-style CNN features on MNIST, e.g. the
   SimCLR reproductions in lightly's and solo-learn's MNIST examples).
2. Choose the fine-tuning recipe on validation data, for each budget: digits' training split is cut into a pool
   (labels are drawn from it) and a validation part; each candidate recipe (LP-FT with a 10x smaller
   encoder rate and mild crops, the head starting as the converged logistic-regression probe; plain
   fine-tuning; LP-FT whose head first trains alone by SGD; LP-FT without augmentation, with L2-SP, and
   with the encoder at 0.01x) is
   scored on validation draws (seeds never used for the test numbers). The test set plays no part.
3. Transfer to digits (other writers) with 1, 5 and 10 labels
   per class, ``--draws`` label draws each (the same draws for every method): from scratch (same
   network, random weights, same augmentation and steps) vs a linear probe of the frozen features vs
   fine-tuning with the chosen recipe. Mean +- std over draws and every draw go to the JSON.

Goal (issue 21): fine-tune >= max(probe, scratch) at every budget, >= scratch + 10 points at 5/class.
Everything runs on one thread (the machines are shared): wall times come with the 1-minute load
average at that moment.

    python benchmarks/bench_transfer.py [--quick] [--draws 5] [--simclr] [--source mnist_8x8|mnist]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import table, write_result

from deepfeat.data.datasets import load_dataset
from deepfeat.data.splits import DataBundle
from deepfeat.engine.device import Precision
from deepfeat.run.model_io import export_model
from deepfeat.engine.inference import collect, evaluate_split
from deepfeat.engine.seeding import seed_everything
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.eval.probes import linear_probe
from deepfeat.learners.build import build_learner
from deepfeat.run.evaluations.low_label import (
    LowLabelConfig,
    accuracies,
    label_draws,
    low_label_accuracy,
    low_label_table,
    std_of,
)

CNN = {"name": "cnn", "channels": [32, 64, 128], "norm": "batch", "pool": "max"}
# Each pretraining: learner spec, batch size, optimizer (cosine schedule for both).
PRETRAIN: dict[str, tuple[dict[str, Any], int, dict[str, Any]]] = {
    "supervised": ({"name": "classifier"}, 128, {"name": "adamw", "lr": 2e-3}),
    # Batch 128 gives twice the updates of 256 for the same compute (the budget here is CPU time),
    # and temperature 0.2 suits the smaller batch; crops keep >= 30% of the 28x28 frame.
    "simclr": ({"name": "simclr", "temperature": 0.2, "projection_dim": 64, "projection_hidden": 512,
                "augment": {"name": "image", "crop_scale": [0.3, 1.0], "jitter": 0.4, "blur_p": 0.5}},
               128, {"name": "adamw", "lr": 3e-3, "weight_decay": 1e-4}),
}


# Fine-tuning recipes compared on validation draws: (name, transfer-learner settings, head_fraction).
# LP-FT's head starts as the converged logistic-regression probe (head_init: probe, the learner's default);
# ``lp_sgd_ft`` is the older LP-FT whose head trains alone by SGD for 30% of the steps first.
RECIPES: list[tuple[str, dict[str, Any], float]] = [
    ("lp_ft", {"encoder_lr": 0.1, "augment": "auto"}, 0.0),
    ("plain_ft", {"encoder_lr": 1.0, "augment": "auto", "head_init": "random"}, 0.0),
    ("lp_sgd_ft", {"encoder_lr": 0.1, "augment": "auto", "head_init": "random"}, 0.3),
    ("lp_ft_no_augment", {"encoder_lr": 0.1, "augment": "none"}, 0.0),
    ("lp_ft_l2sp", {"encoder_lr": 0.1, "augment": "auto", "l2sp": 1e-3}, 0.0),
    ("lp_ft_slow", {"encoder_lr": 0.01, "augment": "auto"}, 0.0),
]
SELECTION_SEED = 1000  # validation draws: never the test draws' seeds


def load_1min() -> float:
    return round(os.getloadavg()[0], 2)


def pretrain(kind: str, mnist: Any, epochs: int, out: Path) -> dict[str, Any]:
    """Train ``kind`` on MNIST, export it to ``out``; linear-probe (and test) accuracy, steps, wall time."""
    seed_everything(0)
    spec, batch, optimizer = PRETRAIN[kind]
    learner = build_learner(spec, mnist.info, CNN)
    cfg = TrainingConfig(epochs=epochs, batch_size=batch, progress="none", monitor="train/loss",
                         restore_best=False, threads=1)
    trainer = Trainer(cfg, seed=0)
    fit = trainer.fit(learner, mnist, optimizer=optimizer, schedule={"name": "cosine"})
    load = load_1min()
    export_model(learner, mnist.info, spec, CNN, out)
    t0 = time.perf_counter()
    fp32 = Precision(torch.device("cpu"), None, False)
    train_z, train_y = collect(learner, mnist.train, fp32, learner.embed)
    test_z, test_y = collect(learner, mnist.test, fp32, learner.embed)
    probe = linear_probe(train_z, train_y, test_z, test_y)
    row = {"pretraining": kind, "epochs": epochs, "steps": fit.steps, "batch_size": batch, "time_s": round(fit.time_s, 1),
           "load_1min": load, "mnist_linear_probe": probe["accuracy"], "probe_time_s": round(time.perf_counter() - t0, 1),
           "probe_train_samples": len(train_y), "final_train_loss": round(fit.history[-1]["train/loss"], 4),
           "learner": spec, "optimizer": optimizer}
    if kind == "supervised":
        row["mnist_test_acc"] = evaluate_split(learner, mnist.test, "test", trainer.precision)["test/acc"]
    return row


def rows_of(name: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for method, accs in accuracies(result).items():
        for k, acc in accs.items():
            rows.append({"pretraining": name, "method": method, "labels/class": k, "accuracy": acc,
                         "std": std_of(result, method, k), "draws": result["draws"][f"{method}@{k}"],
                         "time_s": result["time_s"][f"{method}@{k}"]})
    return rows


def select_recipe(pool: DataBundle, backbone: dict[str, Any], steps: int, draws: int,
                  k: int) -> tuple[str, list[dict[str, Any]]]:
    """The recipe with the best mean validation accuracy at ``k`` labels per class (validation draws)."""
    scores = []
    for name, args, head_fraction in RECIPES:
        low = LowLabelConfig(labels_per_class=[k], methods=["fine_tune"], steps=steps, lr=2e-3,
                             repeats=draws, seed=SELECTION_SEED, head_fraction=head_fraction)
        result = low_label_accuracy(pool, backbone, low, args)
        row = {"recipe": name, "labels/class": k, "val_mean": result["fine_tune"][str(k)],
               "val_std": result["std"][f"fine_tune@{k}"], "load_1min": load_1min()}
        scores.append(row)
        print(row, flush=True)
    return max(scores, key=lambda r: r["val_mean"])["recipe"], scores


def pixel_baseline(data: DataBundle, draws: int) -> dict[str, dict[str, float]]:
    """Logistic regression on the target's raw pixels, on the low-label evaluation's own draws: what features must beat."""
    y = data.train.y.numpy()
    x, test_x = data.train.x.flatten(1).numpy(), data.test.x.flatten(1).numpy()
    out: dict[str, dict[str, float]] = {"mean": {}, "std": {}}
    for k in (1, 5, 10):
        accs = [linear_probe(x[idx], y[idx], test_x, data.test.y.numpy(), seed=r)["accuracy"]
                for r, idx in enumerate(label_draws(y, k, draws, 0))]
        out["mean"][str(k)], out["std"][str(k)] = round(float(np.mean(accs)), 4), round(float(np.std(accs)), 4)
    return out


def merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One low-label result from per-budget results (each budget ran with its own recipe)."""
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict) and key != "settings":
                out.setdefault(key, {}).update(value)
        out.setdefault("settings", []).append(part["settings"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5k MNIST images, short training, 3 draws")
    parser.add_argument("--draws", type=int, default=None, help="label draws per budget (default 5, quick 3)")
    parser.add_argument("--simclr", action="store_true", help="also pretrain with SimCLR and transfer it")
    parser.add_argument("--simclr-epochs", type=int, default=None, help="SimCLR epochs (default 3, quick 4)")
    parser.add_argument("--source", default="mnist_8x8", choices=("mnist_8x8", "mnist"),
                        help="pretraining data: MNIST in digits' 8x8 format (default) or 28x28 MNIST")
    args = parser.parse_args()
    torch.set_num_threads(1)
    # Quick: 5k images; 6 supervised epochs (240 steps: 2 epochs = 80 steps left the head undertrained).
    limit, sup_epochs, ssl_epochs, steps = (5000, 6, 4, 100) if args.quick else (None, 2, 3, 200)
    draws = args.draws or (3 if args.quick else 5)
    ssl_epochs = args.simclr_epochs or ssl_epochs
    mnist = load_dataset({"name": args.source, "limit": limit, "test_limit": 2000 if args.quick else None},
                         val_fraction=0.0)
    # Pool (labels are drawn from it) / validation (recipe choice) / test (reported): 50% / 20% / 30%.
    digits = load_dataset("digits", val_fraction=0.2, test_fraction=0.3)
    selection = DataBundle(digits.info, digits.train, test=digits.val)
    evaluation = DataBundle(digits.info, digits.train, test=digits.test)
    results: dict[str, Any] = {"quick": args.quick, "source": args.source, "draws": draws, "steps": steps, "pretraining": [], "transfer": {},
                               "selection": {}, "split": {"pool": len(digits.train), "val": len(digits.val),
                                                          "test": len(digits.test)}}
    kinds = [("supervised", sup_epochs)] + ([("simclr", ssl_epochs)] if args.simclr else [])
    with tempfile.TemporaryDirectory() as tmp:
        for kind, epochs in kinds:
            row = pretrain(kind, mnist, epochs, Path(tmp) / kind)
            results["pretraining"].append(row)
            print(f"pretrained {kind}: {row}", flush=True)
            backbone = {"name": "backbone", "source": str(Path(tmp) / kind)}
            # The recipe is chosen per budget on validation draws: what suits 1 label per class need not suit 10.
            parts, chosen = [], {}
            for k in (1, 5, 10):
                chosen[k], scores = select_recipe(selection, backbone, steps, 2 if args.quick else 3, k)
                results["selection"].setdefault(kind, {})[str(k)] = {"chosen": chosen[k], "candidates": scores}
                _, recipe, head_fraction = next(r for r in RECIPES if r[0] == chosen[k])
                # Scratch does not depend on the pretraining: run it once.
                methods = ["scratch", "linear_probe", "fine_tune"] if kind == "supervised" else ["linear_probe", "fine_tune"]
                low = LowLabelConfig(labels_per_class=[k], methods=methods, steps=steps, lr=2e-3, repeats=draws,
                                     head_fraction=head_fraction)
                parts.append(low_label_accuracy(evaluation, backbone, low, recipe))
            results["transfer"][kind] = {**merged(parts), "recipe": chosen, "load_1min": load_1min()}
            print(low_label_table(results["transfer"][kind]), flush=True)
    results["pixels_logistic_regression"] = pixel_baseline(evaluation, draws)
    print("logistic regression on raw digits pixels:", results["pixels_logistic_regression"], flush=True)
    rows = [r for kind, res in results["transfer"].items() for r in rows_of(kind, res)]
    print(table(results["pretraining"], ["pretraining", "epochs", "steps", "time_s", "load_1min", "mnist_test_acc",
                                         "mnist_linear_probe"]))
    print(table(rows, ["pretraining", "method", "labels/class", "accuracy", "std", "time_s"]))
    name = ("transfer_quick" if args.quick else "transfer") + ("" if args.source == "mnist_8x8" else "_mnist28")
    path = write_result(name, {**results, "rows": rows,
                        "reference": "SimCLR-style CNN features on MNIST: ~98-99% linear-probe accuracy"})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
