"""Transfer benchmark (issue 6): pretrain on MNIST, transfer to scikit-learn's 8x8 digits with few labels.

1. Pretrain the same CNN on MNIST twice: supervised (labels) and SimCLR (no labels); the SimCLR
   features are scored by a linear probe on MNIST (published: ~98-99% for SimCLR-style CNN features
   on MNIST, e.g. the SimCLR reproductions in lightly's and solo-learn's MNIST examples).
2. Transfer each to digits (other writers, 8x8 upscaled to 28x28 by the backbone) with 1, 5, 10 and
   all labels per class: from scratch (same network, random weights) vs a linear probe of the frozen
   features vs fine-tuning, with the wall time of each, side by side in one process.

    python benchmarks/bench_transfer.py [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from _common import table, write_result

from deepfeat.data.datasets import load_dataset
from deepfeat.engine.device import Precision
from deepfeat.engine.export import export_model
from deepfeat.engine.inference import collect
from deepfeat.engine.seeding import seed_everything
from deepfeat.engine.trainer import Trainer, TrainingConfig, evaluate_split
from deepfeat.eval.probes import linear_probe
from deepfeat.learners.build import build_learner
from deepfeat.lowlabel import (
    LowLabelConfig,
    accuracies,
    low_label_accuracy,
    low_label_table,
)

CNN = {"name": "cnn", "channels": [32, 64, 128], "norm": "batch", "pool": "max"}


def pretrain(kind: str, mnist: Any, epochs: int, out: Path) -> dict[str, Any]:
    """Train ``classifier`` or ``simclr`` on MNIST, export it to ``out``; accuracy and wall time."""
    seed_everything(0)
    spec = {"name": "classifier"} if kind == "supervised" else {"name": "simclr", "projection_dim": 64}
    learner = build_learner(spec, mnist.info, CNN)
    batch = 128 if kind == "supervised" else 256
    cfg = TrainingConfig(epochs=epochs, batch_size=batch, progress="none", monitor="train/loss", restore_best=False)
    t0 = time.perf_counter()
    trainer = Trainer(cfg, seed=0, callbacks=learner.run_callbacks(None))
    trainer.fit(learner, mnist, optimizer={"name": "adamw", "lr": 2e-3 if kind == "supervised" else 3e-3},
                schedule={"name": "cosine"})
    seconds = time.perf_counter() - t0
    export_model(learner, mnist.info, spec, CNN, out)
    precision = Precision(torch.device("cpu"), None, False)
    train_z, train_y = collect(learner, mnist.train, precision, learner.embed, limit=10000)
    test_z, test_y = collect(learner, mnist.test, precision, learner.embed)
    row = {"pretraining": kind, "epochs": epochs, "time_s": round(seconds, 1),
           "mnist_linear_probe": linear_probe(train_z, train_y, test_z, test_y)["accuracy"]}
    if kind == "supervised":
        row["mnist_test_acc"] = evaluate_split(learner, mnist.test, "test", trainer.precision)["test/acc"]
    return row


def transfer(source: Path, digits: Any, cfg: LowLabelConfig) -> dict[str, Any]:
    return low_label_accuracy(digits, {"name": "backbone", "source": str(source)}, cfg)


def rows_of(name: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for method, accs in accuracies(result).items():
        for k, acc in accs.items():
            rows.append({"pretraining": name, "method": method, "labels/class": k, "accuracy": acc,
                         "time_s": result["time_s"][f"{method}@{k}"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5k MNIST images, short training (~3 min)")
    args = parser.parse_args()
    limit, sup_epochs, ssl_epochs, steps = (5000, 2, 4, 60) if args.quick else (None, 3, 15, 300)
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
            low.methods = ["scratch", "linear_probe", "fine_tune"] if kind == "supervised" else ["linear_probe", "fine_tune"]
            results["transfer"][kind] = transfer(Path(tmp) / kind, digits, low)
            print(low_label_table(results["transfer"][kind]), flush=True)
    rows = [r for kind, res in results["transfer"].items() for r in rows_of(kind, res)]
    print(table(results["pretraining"], ["pretraining", "epochs", "time_s", "mnist_test_acc", "mnist_linear_probe"]))
    print(table(rows, ["pretraining", "method", "labels/class", "accuracy", "time_s"]))
    path = write_result("transfer_quick" if args.quick else "transfer", {**results, "rows": rows,
                        "reference": "SimCLR-style CNN features on MNIST: ~98-99% linear-probe accuracy"})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
