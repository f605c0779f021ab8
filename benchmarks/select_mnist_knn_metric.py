"""The kNN distance for one-class MNIST's label-free row, compared on validation data only (no test image read).

For each normal digit, VICReg is trained as in bench_autoencoders.py's label-free row (the settings of
examples/configs/mnist_oneclass_vicreg_knn.yaml, the benchmark's data) and its features are scored against the
normal training features with the cosine and the Euclidean kNN distance (``knn_metric``), from the same training.
The validation set: the digit's own validation images (never trained on) as normal, 2,000 training images of the
other digits as anomalies (never in the one-class training, and the benchmark's test set is the official test
images). The metric with the higher mean validation ROC-AUC is the one a next benchmark run should use.

    DEEPFEAT_DATA=../shared/data python benchmarks/select_mnist_knn_metric.py --digits 2 5 8   # ~1.5 min a digit

Writes benchmarks/results/mnist_knn_metric_selection.json and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from bench_autoencoders import MODES, RESULTS, label_free_row, mnist, train
from deepfeat.data.splits import DataBundle
from deepfeat.learners.knn_scores import METRICS, FeatureBank

ANOMALIES = 2000  # other digits' training images in each validation set


def validation_images(every: DataBundle, data: DataBundle, digit: int) -> torch.Tensor:
    """The validation set of ``digit`` normal: its held-out training images (``data.val``), then ANOMALIES training
    images of the other digits (from ``every``, drawn with the digit as seed)."""
    others = (every.train.y != digit).nonzero().squeeze(1)
    pick = others[torch.randperm(len(others), generator=torch.Generator().manual_seed(digit))[:ANOMALIES]]
    return torch.cat([data.val.x, every.train.x[pick]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    args = parser.parse_args()
    torch.set_num_threads(1)
    mode = MODES["full"]
    _, spec, settings = label_free_row()
    every = mnist(mode)  # all digits' training images: the anomalies come from here
    rows: dict[str, list[float]] = {metric: [] for metric in METRICS}
    t0 = time.perf_counter()
    for digit in args.digits:
        data = mnist(mode, normal_classes=[digit], score_heldout=False)
        x_val = validation_images(every, data, digit)
        labels = np.r_[np.zeros(len(data.val)), np.ones(ANOMALIES)]
        torch.manual_seed(0)
        learner, _ = train(spec, data, seed=0, **settings)
        with torch.no_grad():
            z_val = torch.cat([learner.embed(chunk) for chunk in x_val.split(1024)])
        for metric in METRICS:
            bank = FeatureBank(learner.feature_dim, k=spec["knn_k"], metric=metric)
            bank.fill(learner.embed, data.train.batches(1024), lambda x: x, contextlib.nullcontext)
            rows[metric].append(float(roc_auc_score(labels, bank.score(z_val).numpy())))
        print(f"  digit {digit}: " + "  ".join(f"{m} {v[-1]:.4f}" for m, v in rows.items()), flush=True)
    means = {m: round(float(np.mean(v)), 4) for m, v in rows.items()}
    out = {"digits": args.digits, "val_auc_per_digit": rows, "mean_val_auc": means, "chosen": max(means, key=means.get),
           "validation": f"the digit's validation images vs {ANOMALIES} other digits' training images",
           "settings": settings, "load_average": [round(v, 1) for v in os.getloadavg()],
           "time_s": round(time.perf_counter() - t0, 1)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mnist_knn_metric_selection.json").write_text(json.dumps(out, indent=2))
    print("| validation ROC-AUC (mean) | " + " | ".join(means) + " |\n|---|" + "---|" * len(means))
    print("| VICReg kNN | " + " | ".join(f"{v:.4f}" for v in means.values()) + f" |\n\nchosen: {out['chosen']}")


if __name__ == "__main__":
    main()
