"""Choose the label-free scores' settings for the one-class tables on a development table (no benchmark table read).

bench_autoencoders.py ``--part tabular`` scores iris, wine and breast_cancer; its label-free rows (kNN distance in
masked-autoencoder or VICReg features, VICReg's views made by SCARF's feature corruption) need one choice made
beforehand: the kNN distance, cosine or Euclidean. It is chosen here on a table that is not in that benchmark:
scikit-learn's 8x8 digits as 64-d vectors, each digit normal in turn, with the benchmark's network, steps, batch,
optimizer and split (val 0.1, test 0.3 of this development table). Per learner, the metric with the higher mean
ROC-AUC is the one the benchmark uses.

    python benchmarks/select_table_scores.py          # ~10 min on 2 busy cores, 1 thread

Writes benchmarks/results/table_scores_selection.json and prints a table.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

import deepfeat  # noqa: F401  (registers everything)
from bench_autoencoders import RESULTS, train
from deepfeat.data.bundle import LoadOptions, make_bundle
from deepfeat.engine.device import resolve_precision
from deepfeat.engine.inference import collect

CANDIDATES = {f"{learner} ({metric})": {"name": learner, "knn_metric": metric}
              for learner in ("mae_knn", "vicreg_knn") for metric in ("cosine", "euclidean")}
STEPS, BATCH, ENCODER = 300, 32, {"name": "mlp", "hidden": [64, 32]}  # as bench_autoencoders.py's full tabular mode


def main() -> None:
    torch.set_num_threads(1)
    raw = load_digits()
    rows: dict[str, list[float]] = {name: [] for name in CANDIDATES}
    t0 = time.perf_counter()
    for digit in range(10):
        options = LoadOptions(normal_classes=(digit,), val_fraction=0.1, test_fraction=0.3)
        data = make_bundle(raw.data, raw.target, "vector", "digits_vectors", class_names=[str(c) for c in range(10)],
                           **options.kwargs())
        labels = (data.test.y != digit).numpy()
        epochs = max(1, STEPS // data.train.num_batches(BATCH))
        for name, spec in CANDIDATES.items():
            torch.manual_seed(0)
            learner, _ = train(spec, data, epochs, encoder=ENCODER, batch_size=BATCH)
            scores, _ = collect(learner, data.test, resolve_precision("fp32", torch.device("cpu"), learner),
                                learner.score_samples)
            rows[name].append(float(roc_auc_score(labels, scores)))
        print(f"  digit {digit}: " + "  ".join(f"{m} {v[-1]:.3f}" for m, v in rows.items()), flush=True)
    means = {m: round(float(np.mean(v)), 4) for m, v in rows.items()}
    chosen = {learner: max(("cosine", "euclidean"), key=lambda metric: means[f"{learner} ({metric})"])
              for learner in ("mae_knn", "vicreg_knn")}
    out = {"table": "sklearn digits as 64-d vectors (development table)", "auc_per_digit": rows, "mean_auc": means,
           "chosen_metric": chosen, "settings": {"steps": STEPS, "batch_size": BATCH, "encoder": ENCODER, "seed": 0},
           "load_average": [round(v, 1) for v in os.getloadavg()], "time_s": round(time.perf_counter() - t0, 1)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "table_scores_selection.json").write_text(json.dumps(out, indent=2))
    print("| development table (digits as vectors) | mean ROC-AUC |\n|---|---|")
    print("\n".join(f"| {m} | {v:.3f} |" for m, v in means.items()) + f"\n\nchosen: {chosen}")


if __name__ == "__main__":
    main()
