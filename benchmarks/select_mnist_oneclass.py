"""One-class MNIST's label-free scores compared on validation data only (no test image read): which one, or which
standardized sum of two, the benchmark's next row should use.

For each normal digit, each candidate is trained on the digit's training images as in bench_autoencoders.py's
one-class part and scores a validation set: the digit's own held-out training images (never trained on) as normal,
2,000 training images of the other digits as anomalies (the same draw as select_mnist_knn_metric.py; the
benchmark's test set is the official test images). Candidates, each within a minute or two of one CPU thread:

- ``tp8``: transformation prediction with the 8 flips and rotations (``translate: false``), CNN [32, 64, 128];
- ``tp72``: with the paper's 72 (translations too), a smaller CNN [16, 32, 64] (scoring runs 72 copies);
- ``vicreg20``: vicreg_knn, the shipped config's settings with 20 epochs instead of 10;
- ``ae``: the benchmark's MLP autoencoder (reconstruction error);
- ``tp8+ae learner``: learner ``score_ensemble`` with the members ``tp8`` and ``ae`` trained together (``tp8``'s
  settings), its own standardization (on the normal training images);
- ``vicreg+ae learner``: the same with the shipped vicreg_knn (10 epochs) and ``ae``, the vicreg_knn config's settings;
- ``tp8+vicreg+ae learner``: the three together, the vicreg_knn config's settings;

the first two trained on one random transformation per sample and step (``transforms_per_sample: 1``); and the
standardized sums of pairs of the single scores: each score minus its mean, over its standard deviation, both taken
on one half of the held-out normal images (even positions). Every ROC-AUC here is on the other half plus the
anomalies. ``--out`` names the results file (one per set of runs; the page quotes them all).

    DEEPFEAT_DATA=../shared/data python benchmarks/select_mnist_oneclass.py --digits 2 3 5 8   # ~5 min a digit

Writes benchmarks/results/mnist_oneclass_selection.json (or ``--out``; after each digit) and prints a table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from bench_autoencoders import ENCODER, MODES, RESULTS, label_free_row, mnist, train
from select_mnist_knn_metric import ANOMALIES, validation_images  # the same validation draw
CNN = {"name": "cnn", "channels": [32, 64, 128], "kernel_size": 3, "pool": "max", "norm": "batch"}
SMALL_CNN = {**CNN, "channels": [16, 32, 64]}


def candidates() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Name -> (learner spec, training settings for bench_autoencoders.train)."""
    _, free_spec, free = label_free_row()
    tp = {"epochs": 10, "batch_size": 64, "lr": 1e-3}
    return {"tp8": ({"name": "transform_prediction", "translate": False, "transforms_per_sample": 1}, {**tp, "encoder": CNN}),
            "tp72": ({"name": "transform_prediction", "transforms_per_sample": 1}, {**tp, "encoder": SMALL_CNN}),
            "vicreg20": (free_spec, {**free, "epochs": 20}),
            "ae": ({"name": "autoencoder", "code_dim": 32}, {"epochs": 20, "encoder": ENCODER}),
            "tp8+ae learner": ({"name": "score_ensemble", "members": [
                {"name": "transform_prediction", "translate": False, "transforms_per_sample": 1},
                {"name": "autoencoder", "code_dim": 32, "encoder": ENCODER}]}, {**tp, "encoder": CNN}),
            "vicreg+ae learner": ({"name": "score_ensemble", "members": [
                free_spec, {"name": "autoencoder", "code_dim": 32, "encoder": ENCODER}]}, free),
            "tp8+vicreg+ae learner": ({"name": "score_ensemble", "members": [
                free_spec, {"name": "transform_prediction", "translate": False, "transforms_per_sample": 1},
                {"name": "autoencoder", "code_dim": 32, "encoder": ENCODER}]}, free)}
SINGLE = ("tp8", "tp72", "vicreg20", "ae")  # the scores whose standardized pairs are compared


def scores_of(learner: Any, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([learner.score_samples(chunk) for chunk in x.split(1024)]).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--digits", type=int, nargs="+", default=[2, 3, 5, 8])
    parser.add_argument("--only", nargs="+", default=None, help="candidates to run (default all)")
    parser.add_argument("--out", default="mnist_oneclass_selection.json", help="results file under benchmarks/results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    mode = MODES["full"]
    cands = {k: v for k, v in candidates().items() if args.only is None or k in args.only}
    every = mnist(mode)
    auc: dict[str, list[float]] = {}
    seconds: dict[str, list[float]] = {}
    out_path = RESULTS / args.out
    t0 = time.perf_counter()
    for digit in args.digits:
        data = mnist(mode, normal_classes=[digit], score_heldout=False)
        x_val = validation_images(every, data, digit)
        n = len(data.val)
        fit_half = np.arange(n) % 2 == 0  # standardization statistics
        held = ~np.r_[fit_half, np.zeros(ANOMALIES, bool)]  # what every ROC-AUC is computed on
        labels = np.r_[np.zeros(n), np.ones(ANOMALIES)][held]
        z: dict[str, np.ndarray] = {}
        for name, (spec, settings) in cands.items():
            torch.manual_seed(0)
            t = time.perf_counter()
            learner, _ = train(spec, data, seed=0, **settings)
            s = scores_of(learner, x_val)
            seconds.setdefault(name, []).append(round(time.perf_counter() - t, 1))
            z[name] = (s - s[:n][fit_half].mean()) / s[:n][fit_half].std()
            auc.setdefault(name, []).append(round(float(roc_auc_score(labels, s[held])), 4))
            print(f"  digit {digit} {name}: {auc[name][-1]:.4f} ({seconds[name][-1]} s)", flush=True)
        for a, b in itertools.combinations([name for name in z if name in SINGLE], 2):
            auc.setdefault(f"{a}+{b}", []).append(round(float(roc_auc_score(labels, (z[a] + z[b])[held])), 4))
        print(f"  digit {digit}: " + "  ".join(f"{m} {v[-1]:.4f}" for m, v in auc.items()), flush=True)
        means = {m: round(float(np.mean(v)), 4) for m, v in auc.items()}
        result = {"digits": args.digits[: len(next(iter(auc.values())))], "val_auc_per_digit": auc, "mean_val_auc": means,
                  "time_s_per_digit": seconds,
                  "validation": f"odd positions of the digit's held-out training images vs {ANOMALIES} other digits' "
                                "training images; standardization on the even positions",
                  "candidates": {k: {"learner": s, "settings": v} for k, (s, v) in cands.items()},
                  "threads": 1, "load_average": [round(v, 1) for v in os.getloadavg()],
                  "time_s": round(time.perf_counter() - t0, 1)}
        RESULTS.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=2))
    print("| validation ROC-AUC | mean | " + " | ".join(map(str, args.digits)) + " |\n|---|---|" + "---|" * len(args.digits))
    for m, v in auc.items():
        print(f"| {m} | {np.mean(v):.4f} | " + " | ".join(f"{a:.4f}" for a in v) + " |")


if __name__ == "__main__":
    main()
