"""Choose the label-free scores' settings for the one-class tables on a development table (no benchmark table read).

bench_autoencoders.py ``--part tabular`` scores iris, wine and breast_cancer; its label-free rows need choices made
beforehand, here on a table that is not in that benchmark: scikit-learn's 8x8 digits as 64-d vectors, each digit
normal in turn, with the benchmark's batch, optimizer and split (val 0.1, test 0.3 of this development table).
Groups of choices (``--group``):

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
- ``suite``: the chosen detectors on a wider development suite, so that no choice rests on one table's shape:
  digits as above, and three UCR problems shipped with aeon read as plain vectors (ItalyPowerDemand, 24 features;
  GunPoint, 150; ArrowHead, 251), each class normal in turn, the mean over each table's classes, then over the
  four tables as the benchmark averages its tables. Candidates: GOAD and the flow as chosen above, the flow with
  coarser training noise (2.0 and 4.0 standard deviations: the density blurred towards one wide bump), the VAE at
  the benchmark's code size and steps, and the masked autoencoder's kNN score as the benchmark runs it.
  scikit-learn's OneClassSVM and IsolationForest, the squared distance to the normal training rows' mean and their
  Ledoit-Wolf Mahalanobis distance are scored beside them as references, never chosen (table_suite_selection.json).
- ``suite_ensemble``: the suite's two best, GOAD (best on ItalyPowerDemand) and the flow (best on digits and
  GunPoint), as one ``score_ensemble``: trained side by side, their scores standardized on the normal training rows
  and summed (table_suite_ensemble_selection.json; against the suite group's numbers).
- ``suite_dte``: diffusion time estimation (``learner: diffusion_time``, the paper's noise schedule and 7 bins) on
  the suite: the benchmark's MLP [64, 32], the same with batch norm, or the paper's MLP [256, 512, 256], each
  1000 or 3000 steps (table_suite_dte_selection.json).
- ``suite_ensemble_dte``: the best of those summed with GOAD, and with GOAD and the flow
  (table_suite_ensemble_dte_selection.json; against the suite groups' numbers).
- ``suite_goad``: GOAD's settings chosen again on the suite (they were chosen on digits alone): 64 maps, the
  distance softmax or the triplet loss (margin 1), features 8, 32 or 64 (the MLP [64, F]), 1000 steps
  (table_suite_goad_selection.json; against the suite groups' numbers).

    python benchmarks/select_table_scores.py --group knn         # ~10 min on 2 busy cores, 1 thread
    python benchmarks/select_table_scores.py --group goad        # ~15 min on 2 busy cores, 1 thread
    python benchmarks/select_table_scores.py --group goad_maps   # ~10 min on 2 busy cores, 1 thread
    python benchmarks/select_table_scores.py --group flow        # ~15 min on 2 busy cores, 1 thread
    python benchmarks/select_table_scores.py --group suite       # ~10 min on 2 idle cores, 1 thread
    python benchmarks/select_table_scores.py --group suite_ensemble   # ~5 min on 2 idle cores, 1 thread
    python benchmarks/select_table_scores.py --group suite_dte        # ~6 min on 2 idle cores, 1 thread
    python benchmarks/select_table_scores.py --group suite_ensemble_dte   # ~8 min on 2 idle cores, 1 thread
    python benchmarks/select_table_scores.py --group suite_goad       # ~15 min on 2 idle cores, 1 thread

Writes the group's JSON file under benchmarks/results/ and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from sklearn.covariance import LedoitWolf
from sklearn.datasets import load_digits
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

import deepfeat  # noqa: F401  (registers everything)
from bench_autoencoders import RESULTS, code_size, train
from deepfeat.data.bundle import LoadOptions, make_bundle
from deepfeat.data.timeseries import read_ucr
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
GOAD_CANDIDATE: Candidate = ({"name": "transform_prediction", "count": 64}, GOAD_CHOSEN["encoder"], 1000)
CODE = code_size(64)  # the benchmark's code size for the digits' 64 features
ENSEMBLE: dict[str, Candidate] = {
    "transform_prediction (chosen above)": GOAD_CANDIDATE,
    **{f"score_ensemble: transform_prediction + {member}": (
        {"name": "score_ensemble", "members": [GOAD_CHOSEN, {"name": member, "code_dim": CODE, "encoder": ENCODER}]},
        ENCODER, 1000) for member in ("vae", "autoencoder")}}
FLOW: dict[str, Candidate] = {
    "transform_prediction (chosen above)": GOAD_CANDIDATE,
    **{f"flow (couplings {couplings}, noise {noise}, 1000 steps)": (
        {"name": "flow", "couplings": couplings, "noise": noise}, ENCODER, 1000)
        for couplings in (4, 8) for noise in (0.1, 0.3, 0.5)}}
FLOW_NOISE: dict[str, Candidate] = {
    f"flow (couplings 8, noise {noise}, 1000 steps)": ({"name": "flow", "couplings": 8, "noise": noise}, ENCODER, 1000)
    for noise in (0.7, 1.0)}
FLOW_CHOSEN = {"name": "flow", "couplings": 8, "noise": 0.7}
BENCHMARK_CODE = "max(2, features // 3)"  # a code_dim resolved per table by the benchmark's rule (code_size)
SUITE: dict[str, Candidate] = {
    "transform_prediction (chosen above)": GOAD_CANDIDATE,
    **{f"flow (couplings 8, noise {noise}, 1000 steps)": ({**FLOW_CHOSEN, "noise": noise}, ENCODER, 1000)
       for noise in (0.7, 2.0, 4.0)},
    f"vae (code {BENCHMARK_CODE}, 300 steps)": ({"name": "vae", "code_dim": BENCHMARK_CODE}, ENCODER, STEPS),
    "mae_knn (euclidean, 300 steps)": ({"name": "mae_knn", "knn_metric": "euclidean"}, ENCODER, STEPS)}
UCR_TABLES = ("ItalyPowerDemand", "GunPoint", "ArrowHead")
SUITE_ENSEMBLE: dict[str, Candidate] = {"score_ensemble: transform_prediction + flow (both as chosen above, 1000 steps)": (
    {"name": "score_ensemble", "members": [GOAD_CHOSEN, {**FLOW_CHOSEN, "encoder": ENCODER}]},
    ENCODER, 1000)}
DTE_ENCODERS = {"the benchmark's MLP [64, 32]": ENCODER, "MLP [64, 32], batch norm": {**ENCODER, "norm": "batch"},
                "the paper's MLP [256, 512, 256]": {"name": "mlp", "hidden": [256, 512, 256]}}
SUITE_DTE: dict[str, Candidate] = {f"diffusion_time ({label}, {steps} steps)": ({"name": "diffusion_time"}, encoder, steps)
                                   for label, encoder in DTE_ENCODERS.items() for steps in (1000, 3000)}
DTE_CHOSEN = {"name": "diffusion_time", "encoder": DTE_ENCODERS["the paper's MLP [256, 512, 256]"]}  # suite_dte's best
SUITE_ENSEMBLE_DTE: dict[str, Candidate] = {
    "score_ensemble: transform_prediction + diffusion_time (both as chosen above, 1000 steps)": (
        {"name": "score_ensemble", "members": [GOAD_CHOSEN, DTE_CHOSEN]}, ENCODER, 1000),
    "score_ensemble: transform_prediction + flow + diffusion_time (each as chosen above, 1000 steps)": (
        {"name": "score_ensemble", "members": [GOAD_CHOSEN, {**FLOW_CHOSEN, "encoder": ENCODER}, DTE_CHOSEN]},
        ENCODER, 1000)}
SUITE_GOAD: dict[str, Candidate] = {  # GOAD's settings again, on the suite rather than on digits alone
    f"transform_prediction (count 64, {'triplet margin 1' if margin else 'distance softmax'}, features {features}, "
    f"1000 steps)": ({"name": "transform_prediction", "count": 64, "margin": margin},
                     {"name": "mlp", "hidden": [64, features]}, 1000)
    for margin in (None, 1.0) for features in (8, 32, 64)}
GROUPS = {"knn": (KNN, "table_scores_selection.json"), "goad": (GOAD, "table_goad_selection.json"),
          "goad_maps": (GOAD_MAPS, "table_goad_maps_selection.json"), "ensemble": (ENSEMBLE, "table_ensemble_selection.json"),
          "flow": (FLOW, "table_flow_selection.json"), "flow_noise": (FLOW_NOISE, "table_flow_noise_selection.json"),
          "suite": (SUITE, "table_suite_selection.json"),
          "suite_ensemble": (SUITE_ENSEMBLE, "table_suite_ensemble_selection.json"),
          "suite_dte": (SUITE_DTE, "table_suite_dte_selection.json"),
          "suite_ensemble_dte": (SUITE_ENSEMBLE_DTE, "table_suite_ensemble_dte_selection.json"),
          "suite_goad": (SUITE_GOAD, "table_suite_goad_selection.json")}


def development_tables(suite: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The development tables as (rows, integer labels): digits, and with ``suite`` the UCR problems as vectors."""
    raw = load_digits()
    tables = {"digits": (raw.data.astype(np.float32), raw.target)}
    for problem in UCR_TABLES if suite else ():
        x, y, x_test, y_test = read_ucr(problem)  # (N, 1, T) each: one channel's T steps become T columns
        rows = np.concatenate([x, x_test]).reshape(len(x) + len(x_test), -1).astype(np.float32)
        tables[problem] = (rows, np.unique(np.concatenate([y, y_test]), return_inverse=True)[1])
    return tables


def references(x_train: np.ndarray, x_test: np.ndarray) -> dict[str, np.ndarray]:
    """Scores never chosen, beside the candidates: classical detectors and two distances to the normal rows' centre."""
    centred = x_test - x_train.mean(0)
    return {"reference: sklearn OneClassSVM (rbf, nu 0.1)": -OneClassSVM(nu=0.1).fit(x_train).score_samples(x_test),
            "reference: sklearn IsolationForest": -IsolationForest(random_state=0).fit(x_train).score_samples(x_test),
            "reference: squared distance to the mean": (centred ** 2).sum(1),
            "reference: Ledoit-Wolf Mahalanobis distance": LedoitWolf().fit(x_train).mahalanobis(x_test)}


def scores_on_table(name: str, x: np.ndarray, y: np.ndarray, candidates: dict[str, Candidate],
                    with_references: bool) -> dict[str, list[float]]:
    """ROC-AUC of each candidate on one development table, one per normal class (seed 0)."""
    classes = sorted(set(y.tolist()))
    rows: dict[str, list[float]] = {}
    for normal in classes:
        options = LoadOptions(normal_classes=(normal,), val_fraction=0.1, test_fraction=0.3)
        data = make_bundle(x, y, "vector", f"{name}_vectors", class_names=[str(c) for c in classes], **options.kwargs())
        labels = (data.test.y != normal).numpy()
        for method, (spec, encoder, steps) in candidates.items():
            if spec.get("code_dim") == BENCHMARK_CODE:
                spec = {**spec, "code_dim": code_size(x.shape[1])}
            torch.manual_seed(0)
            epochs = max(1, steps // data.train.num_batches(BATCH))
            learner, _ = train(spec, data, epochs, encoder=encoder, batch_size=BATCH)
            scores, _ = collect(learner, data.test, resolve_precision("fp32", torch.device("cpu"), learner),
                                learner.score_samples)
            rows.setdefault(method, []).append(float(roc_auc_score(labels, scores)))
        if with_references:
            for method, scores in references(data.train.x.numpy(), data.test.x.numpy()).items():
                rows.setdefault(method, []).append(float(roc_auc_score(labels, scores)))
        print(f"  {name}, normal {normal}: " + "  ".join(f"{m} {v[-1]:.3f}" for m, v in rows.items()), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--group", choices=tuple(GROUPS), default="knn", help="which choices to make (see above)")
    group = parser.parse_args().group
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    candidates, name = GROUPS[group]
    suite = group.startswith("suite")
    per_table = {table: scores_on_table(table, x, y, candidates, with_references=suite)
                 for table, (x, y) in development_tables(suite).items()}
    table_means = {table: {m: round(float(np.mean(v)), 4) for m, v in rows.items()} for table, rows in per_table.items()}
    means = {m: round(float(np.mean([t[m] for t in table_means.values()])), 4) for m in table_means["digits"]}
    if group == "knn":
        chosen: dict | str = {learner: max(("cosine", "euclidean"), key=lambda metric: means[f"{learner} ({metric})"])
                              for learner in ("mae_knn", "vicreg_knn")}
    else:
        chosen = max((m for m in means if not m.startswith("reference")), key=means.__getitem__)
    tables = ("sklearn digits as 64-d vectors and the UCR problems " + ", ".join(UCR_TABLES) + " as vectors "
              "(development suite; mean over each table's classes, then over the tables)") if suite else \
        "sklearn digits as 64-d vectors (development table)"
    out = {"table": tables, **({"auc_per_class": per_table, "mean_auc_per_table": table_means} if suite
                               else {"auc_per_digit": per_table["digits"]}),
           "mean_auc": means, "chosen_metric" if group == "knn" else "chosen": chosen,
           "settings": {"batch_size": BATCH, "seed": 0,
                        "candidates": {m: {"learner": c[0], "encoder": c[1], "steps": c[2]} for m, c in candidates.items()}},
           "load_average": [round(v, 1) for v in os.getloadavg()], "time_s": round(time.perf_counter() - t0, 1)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_text(json.dumps(out, indent=2))
    heads = list(table_means) if suite else []  # one column per table, then the mean
    print("| method | " + " | ".join([*heads, "mean ROC-AUC"]) + " |\n|---|" + "---|" * (len(heads) + 1))
    for m, mean in means.items():
        print(f"| {m} | " + " | ".join(f"{v:.3f}" for v in [*(table_means[t][m] for t in heads), mean]) + " |")
    print(f"\nchosen: {chosen}")


if __name__ == "__main__":
    main()
