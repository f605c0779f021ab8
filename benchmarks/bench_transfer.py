"""Transfer benchmark (issue 6): pretrain on MNIST, transfer to scikit-learn's 8x8 digits with few labels.

1. Pretrain the same CNN on MNIST twice: supervised (labels) and SimCLR (no labels). Both are scored
   by a linear probe on MNIST (logistic regression on the frozen features of the 60k training images,
   tested on the 10k test images; published: ~98-99% for SimCLR-style CNN features on MNIST, e.g. the
   SimCLR reproductions in lightly's and solo-learn's MNIST examples).
2. Transfer each to digits (other writers, 8x8 upscaled to 28x28 by the backbone) with 1, 5, 10 and
   all labels per class: from scratch (same network, random weights) vs a linear probe of the frozen
   features vs fine-tuning, with the wall time of each, side by side in one process.

Everything runs on one thread (the machines are shared): wall times come with the 1-minute load
average at that moment.

    python benchmarks/bench_transfer.py [--quick] [--simclr-epochs N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from _common import table, write_result

from deepfeat.data.datasets import load_dataset
from deepfeat.engine.device import Precision
from deepfeat.run.model_io import export_model
from deepfeat.engine.inference import collect
from deepfeat.engine.seeding import seed_everything
from deepfeat.engine.trainer import Trainer, TrainingConfig, evaluate_split
from deepfeat.eval.probes import linear_probe
from deepfeat.learners.build import build_learner
from deepfeat.run.evaluations.low_label import (
    LowLabelConfig,
    accuracies,
    low_label_accuracy,
    low_label_table,
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
                         "time_s": result["time_s"][f"{method}@{k}"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5k MNIST images, short training (~5 min)")
    parser.add_argument("--simclr-epochs", type=int, default=None, help="SimCLR epochs (default 3, quick 4)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    # Quick: 5k images; 6 supervised epochs (240 steps: 2 epochs = 80 steps left the head undertrained).
    limit, sup_epochs, ssl_epochs, steps = (5000, 6, 4, 60) if args.quick else (None, 2, 3, 300)
    ssl_epochs = args.simclr_epochs or ssl_epochs
    mnist = load_dataset({"name": "mnist", "limit": limit, "test_limit": 2000 if args.quick else None},
                         val_fraction=0.0)
    digits = load_dataset("digits", val_fraction=0.0, test_fraction=0.3)
    low = LowLabelConfig(labels_per_class=[1, 5, 10, "all"], steps=steps, lr=2e-3)
    results: dict[str, Any] = {"quick": args.quick, "pretraining": [], "transfer": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, epochs in (("supervised", sup_epochs), ("simclr", ssl_epochs)):
            row = pretrain(kind, mnist, epochs, Path(tmp) / kind)
            results["pretraining"].append(row)
            print(f"pretrained {kind}: {row}", flush=True)
            # Scratch does not depend on the pretraining: run it once.
            low.methods = ["scratch", "linear_probe", "fine_tune"] if kind == "supervised" else ["linear_probe", "fine_tune"]
            backbone = {"name": "backbone", "source": str(Path(tmp) / kind)}
            results["transfer"][kind] = {**low_label_accuracy(digits, backbone, low), "load_1min": load_1min()}
            print(low_label_table(results["transfer"][kind]), flush=True)
    rows = [r for kind, res in results["transfer"].items() for r in rows_of(kind, res)]
    print(table(results["pretraining"], ["pretraining", "epochs", "steps", "time_s", "load_1min", "mnist_test_acc",
                                         "mnist_linear_probe"]))
    print(table(rows, ["pretraining", "method", "labels/class", "accuracy", "time_s"]))
    path = write_result("transfer_quick" if args.quick else "transfer", {**results, "rows": rows,
                        "reference": "SimCLR-style CNN features on MNIST: ~98-99% linear-probe accuracy"})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
