"""Choose the label-free scores' settings for the one-class tables on a development table (no benchmark table read).

bench_autoencoders.py ``--part tabular`` scores iris, wine and breast_cancer; its label-free rows need choices made
beforehand, here on a table that is not in that benchmark: scikit-learn's 8x8 digits as 64-d vectors, each digit
normal in turn, with the benchmark's batch, optimizer and split (val 0.1, test 0.3 of this development table).
Two groups of choices (``--group``):

- ``knn``: the kNN distance, cosine or Euclidean, of the kNN rows (masked-autoencoder or VICReg features, VICReg's
  views made by SCARF's feature corruption), with the benchmark's network and steps. Per learner, the metric with
  the higher mean ROC-AUC is the one the benchmark uses (table_scores_selection.json).
- ``goad``: ``transform_prediction``'s table mode (GOAD): the number of random affine maps, the training loss
  (distance softmax's cross-entropy or centre triplet loss, margin 1), the feature dimension (the MLP's last layer,
  32 as the benchmark's or 8 as GOAD's tables) and the steps (300 as the benchmark's, or 1000). The candidate with
  the highest mean ROC-AUC is the benchmark's row (table_goad_selection.json).
- ``goad_maps``: then, at the chosen loss, features and steps, more maps (64, 128 or 256; GOAD used up to 256 on
  tables) (table_goad_maps_selection.json).
- ``ensemble``: the chosen GOAD row alone, or summed (``score_ensemble``, scores standardized on the normal
  training rows) with the VAE's negative ELBO or the autoencoder's reconstruction error, the benchmark's code size
  (table_ensemble_selection.json).
- ``flow``: the chosen GOAD row against a normalizing flow (RealNVP, ``learner: flow``; its negative log-likelihood):
  4 or 8 coupling layers, training noise of standard deviation 0.1, 0.3 or 0.5, the benchmark's MLP [64, 32] as
  each layer's conditioner, 1000 steps as GOAD's (table_flow_selection.json).
- ``flow_noise``: then, with 8 couplings, noise beyond the largest of those: 0.7 or 1.0
  (table_flow_noise_selection.json; its candidates against the flow group's 0.983 at noise 0.5).

    python benchmarks/select_table_scores.py --group knn         # ~10 min on 2 busy cores, 1 thread
    python benchmarks/select_table_scores.py --group goad        # ~15 min on 2 busy cores, 1 thread
    python benchmarks/select_table_scores.py --group goad_maps   # ~10 min on 2 busy cores, 1 thread
    python benchmarks/select_table_scores.py --group flow        # ~15 min on 2 busy cores, 1 thread

Writes the group's JSON file under benchmarks/results/ and prints a table.
"""

from __future__ import annotations

import argparse
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

STEPS, BATCH, ENCODER = 300, 32, {"name": "mlp", "hidden": [64, 32]}  # as bench_autoencoders.py's full tabular mode
Candidate = tuple[dict, dict, int]  # learner spec, encoder spec, training steps
KNN: dict[str, Candidate] = {f"{learner} ({metric})": ({"name": learner, "knn_metric": metric}, ENCODER, STEPS)
                             for learner in ("mae_knn", "vicreg_knn") for metric in ("cosine", "euclidean")}
GOAD: dict[str, Candidate] = {
    f"transform_prediction (count {count}, {'triplet margin 1' if margin else 'distance softmax'}, "
    f"features {features}, {steps} steps)": ({"name": "transform_prediction", "count": count, "margin": margin},
                                              {"name": "mlp", "hidden": [64, features]}, steps)
    for count in (8, 32, 64) for margin in (None, 1.0) for features in (32, 8) for steps in (STEPS, 1000)}
GOAD_MAPS: dict[str, Candidate] = {
    f"transform_prediction (count {count}, distance softmax, features 8, 1000 steps)":
        ({"name": "transform_prediction", "count": count}, {"name": "mlp", "hidden": [64, 8]}, 1000)
    for count in (64, 128, 256)}
GOAD_CHOSEN = {"name": "transform_prediction", "count": 64, "encoder": {"name": "mlp", "hidden": [64, 8]}}
CODE = max(2, 64 // 3)  # the benchmark's code size, max(2, features // 3), for this table's 64 features
ENSEMBLE: dict[str, Candidate] = {
    "transform_prediction (chosen above)": ({"name": "transform_prediction", "count": 64}, GOAD_CHOSEN["encoder"], 1000),
    **{f"score_ensemble: transform_prediction + {member}": (
        {"name": "score_ensemble", "members": [GOAD_CHOSEN, {"name": member, "code_dim": CODE, "encoder": ENCODER}]},
        ENCODER, 1000) for member in ("vae", "autoencoder")}}
FLOW: dict[str, Candidate] = {
    "transform_prediction (chosen above)": ({"name": "transform_prediction", "count": 64}, GOAD_CHOSEN["encoder"], 1000),
    **{f"flow (couplings {couplings}, noise {noise}, 1000 steps)": (
        {"name": "flow", "couplings": couplings, "noise": noise}, ENCODER, 1000)
        for couplings in (4, 8) for noise in (0.1, 0.3, 0.5)}}
FLOW_NOISE: dict[str, Candidate] = {
    f"flow (couplings 8, noise {noise}, 1000 steps)": ({"name": "flow", "couplings": 8, "noise": noise}, ENCODER, 1000)
    for noise in (0.7, 1.0)}
GROUPS = {"knn": (KNN, "table_scores_selection.json"), "goad": (GOAD, "table_goad_selection.json"),
          "goad_maps": (GOAD_MAPS, "table_goad_maps_selection.json"), "ensemble": (ENSEMBLE, "table_ensemble_selection.json"),
          "flow": (FLOW, "table_flow_selection.json"), "flow_noise": (FLOW_NOISE, "table_flow_noise_selection.json")}


def scores_on_digits(candidates: dict[str, Candidate]) -> dict[str, list[float]]:
    """ROC-AUC of each candidate on the development table, one per normal digit (seed 0)."""
    raw = load_digits()
    rows: dict[str, list[float]] = {name: [] for name in candidates}
    for digit in range(10):
        options = LoadOptions(normal_classes=(digit,), val_fraction=0.1, test_fraction=0.3)
        data = make_bundle(raw.data, raw.target, "vector", "digits_vectors", class_names=[str(c) for c in range(10)],
                           **options.kwargs())
        labels = (data.test.y != digit).numpy()
        for name, (spec, encoder, steps) in candidates.items():
            torch.manual_seed(0)
            epochs = max(1, steps // data.train.num_batches(BATCH))
            learner, _ = train(spec, data, epochs, encoder=encoder, batch_size=BATCH)
            scores, _ = collect(learner, data.test, resolve_precision("fp32", torch.device("cpu"), learner),
                                learner.score_samples)
            rows[name].append(float(roc_auc_score(labels, scores)))
        print(f"  digit {digit}: " + "  ".join(f"{m} {v[-1]:.3f}" for m, v in rows.items()), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--group", choices=tuple(GROUPS), default="knn", help="which choices to make (see above)")
    group = parser.parse_args().group
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    candidates, name = GROUPS[group]
    rows = scores_on_digits(candidates)
    means = {m: round(float(np.mean(v)), 4) for m, v in rows.items()}
    if group == "knn":
        chosen: dict | str = {learner: max(("cosine", "euclidean"), key=lambda metric: means[f"{learner} ({metric})"])
                              for learner in ("mae_knn", "vicreg_knn")}
    else:
        chosen = max(means, key=means.__getitem__)
    out = {"table": "sklearn digits as 64-d vectors (development table)", "auc_per_digit": rows, "mean_auc": means,
           "chosen_metric" if group == "knn" else "chosen": chosen,
           "settings": {"batch_size": BATCH, "seed": 0,
                        "candidates": {m: {"learner": c[0], "encoder": c[1], "steps": c[2]} for m, c in candidates.items()}},
           "load_average": [round(v, 1) for v in os.getloadavg()], "time_s": round(time.perf_counter() - t0, 1)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_text(json.dumps(out, indent=2))
    print("| development table (digits as vectors) | mean ROC-AUC |\n|---|---|")
    print("\n".join(f"| {m} | {v:.3f} |" for m, v in means.items()) + f"\n\nchosen: {chosen}")


if __name__ == "__main__":
    main()
