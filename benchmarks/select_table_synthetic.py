"""Choose a one-class table detector on synthetic anomalies of four types, made from the development tables' normal
rows (no benchmark table read).

The development suite of select_table_scores.py (digits, and the UCR problems ItalyPowerDemand, GunPoint and
ArrowHead as vectors) scores each detector against the table's other classes. Those anomalies have one shape each.
ADBench (Han et al. 2022, "ADBench: Anomaly Detection Benchmark", NeurIPS, section 3.3) generates four types from a
table's normal rows instead, each where one family of detectors is known to fail. Here, for each normal class, from
its standardized training rows:

- ``local``: a Gaussian mixture fitted to the normal rows (in the table's units, before standardization) (1 to 5 components by BIC, full covariances), sampled with
  every covariance scaled by 5: rows off the normal ones, but also beyond their range along their own directions;
- ``cluster``: the same mixture with every mean scaled by 5 (a group of anomalies of the normal rows' shape, elsewhere);
- ``global``: uniform in [1.1 min, 1.1 max] of each feature;
- ``dependency``: each feature drawn independently from a Gaussian KDE of its normal values: every value is typical,
  the relations between the features are broken.

The test set of each type is the class's held-out normal rows and as many synthetic anomalies. Each candidate is
trained once per class (seed 0, the suite's batch, optimizer and split) and scored on the four sets; the mean is
taken over the classes, then over the types, then over the tables. OneClassSVM, IsolationForest, the distance to the
mean and the Ledoit-Wolf Mahalanobis distance are scored beside them as references and never chosen.

The rule, fixed before the run: each candidate's score is the mean of this synthetic suite's mean and its mean on the
real development suite (saved by select_table_scores.py's suite groups); the best goes to the tables benchmark unless
it already ran there.

    python benchmarks/select_table_synthetic.py   # ~20 min on 2 idle cores, 1 thread

Writes benchmarks/results/table_synthetic_selection.json and prints a table.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import torch
from scipy.stats import gaussian_kde
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture

from bench_autoencoders import RESULTS, code_size, train
from deepfeat.data.bundle import LoadOptions, make_bundle
from select_table_scores import (BATCH, BENCHMARK_CODE, Candidate, DTE_CHOSEN, ENCODER, FLOW_CHOSEN, GOAD_CANDIDATE,
                                 GOAD_CHOSEN, STEPS, SUITE_ENSEMBLE, development_tables, references)

TYPES = ("local", "cluster", "global", "dependency")
ALPHA, GLOBAL_MARGIN = 5.0, 0.1  # ADBench's scale of the covariances or means, and of the global range
CANDIDATES: dict[str, Candidate] = {  # each named as in the real suite's saved results
    "transform_prediction (chosen above)": GOAD_CANDIDATE,
    "flow (couplings 8, noise 0.7, 1000 steps)": (FLOW_CHOSEN, ENCODER, 1000),
    "diffusion_time (the paper's MLP [256, 512, 256], 1000 steps)": (
        {"name": "diffusion_time"}, DTE_CHOSEN["encoder"], 1000),
    f"vae (code {BENCHMARK_CODE}, 300 steps)": ({"name": "vae", "code_dim": BENCHMARK_CODE}, ENCODER, STEPS),
    **SUITE_ENSEMBLE,
    "score_ensemble: transform_prediction + diffusion_time (both as chosen above, 1000 steps)": (
        {"name": "score_ensemble", "members": [GOAD_CHOSEN, DTE_CHOSEN]}, ENCODER, 1000)}
REAL_SUITE = ("table_suite_selection.json", "table_suite_ensemble_selection.json", "table_suite_dte_selection.json",
              "table_suite_ensemble_dte_selection.json")
BENCHMARKED = ("transform_prediction (chosen above)",  # rows the tables benchmark already has
               "flow (couplings 8, noise 0.7, 1000 steps)", f"vae (code {BENCHMARK_CODE}, 300 steps)",
               next(iter(SUITE_ENSEMBLE)))


def mixture(x: np.ndarray, seed: int) -> GaussianMixture:
    """A Gaussian mixture of the rows ``x``, its number of components (1 to 5) chosen by BIC; covariances regularized
    by 1e-3 of each feature's variance (a few hundred rows of up to 251 features), fits that collapse skipped."""
    fits = []
    for k in range(1, 6):
        try:
            fits.append(GaussianMixture(k, reg_covar=1e-3 * float(x.var(0).mean()), random_state=seed).fit(x))
        except ValueError:  # a component left with too few rows for a covariance
            break
    return min(fits, key=lambda gm: gm.bic(x))


def synthetic_anomalies(x: np.ndarray, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` anomalies of each of ADBench's four types made from the normal rows ``x (N, D)`` (in the table's own
    units, as ADBench makes them: scaling the means of standardized rows would leave them near 0), each ``(n, D)``."""
    rng = np.random.default_rng(seed)
    x = x.astype(np.float64)
    gm = mixture(x, seed)
    out: dict[str, np.ndarray] = {}
    for kind, attribute in (("local", "covariances_"), ("cluster", "means_")):
        scaled = GaussianMixture(gm.n_components, random_state=seed)
        scaled.weights_, scaled.means_, scaled.covariances_ = gm.weights_, gm.means_, gm.covariances_
        setattr(scaled, attribute, ALPHA * getattr(gm, attribute))
        out[kind] = scaled.sample(n)[0][rng.permutation(n)]  # sample() groups rows by component
    low, high = x.min(0) * (1 + GLOBAL_MARGIN), x.max(0) * (1 + GLOBAL_MARGIN)
    out["global"] = rng.uniform(low, high, size=(n, x.shape[1]))
    columns = []
    for column in x.T:
        if np.ptp(column) == 0:  # a constant feature: a KDE of one value is that value
            columns.append(np.full(n, column[0]))
        else:
            columns.append(gaussian_kde(column).resample(n, seed=rng)[0])
    out["dependency"] = np.stack(columns, 1)
    return {kind: rows.astype(np.float32) for kind, rows in out.items()}


@torch.no_grad()
def score(learner: torch.nn.Module, rows: np.ndarray) -> np.ndarray:
    """The trained ``learner``'s anomaly scores of ``rows``, 256 at a time."""
    x = torch.from_numpy(rows)
    return torch.cat([learner.score_samples(x[i: i + 256]) for i in range(0, len(x), 256)]).numpy()


def scores_on_table(name: str, x: np.ndarray, y: np.ndarray) -> dict[str, dict[str, list[float]]]:
    """ROC-AUC per method and anomaly type on one development table, one per normal class (seed 0)."""
    rows: dict[str, dict[str, list[float]]] = {}
    classes = sorted(set(y.tolist()))
    for normal in classes:
        options = LoadOptions(normal_classes=(normal,), val_fraction=0.1, test_fraction=0.3)
        data = make_bundle(x, y, "vector", f"{name}_vectors", class_names=[str(c) for c in classes], **options.kwargs())
        x_train = data.train.x.numpy()
        held_out = data.test.x[data.test.y == normal].numpy()
        mean, std = np.asarray(data.info.mean, np.float32), np.asarray(data.info.std, np.float32)
        anomalies = synthetic_anomalies(x_train * std + mean, len(held_out))  # made in the table's units
        sets = {kind: np.concatenate([held_out, (rows - mean) / std]).astype(np.float32)
                for kind, rows in anomalies.items()}
        labels = np.r_[np.zeros(len(held_out)), np.ones(len(held_out))]

        def record(method: str, score) -> None:
            for kind, test in sets.items():
                rows.setdefault(method, {}).setdefault(kind, []).append(float(roc_auc_score(labels, score(test))))

        for method, (spec, encoder, steps) in CANDIDATES.items():
            if spec.get("code_dim") == BENCHMARK_CODE:
                spec = {**spec, "code_dim": code_size(x.shape[1])}
            torch.manual_seed(0)
            learner, _ = train(spec, data, max(1, steps // data.train.num_batches(BATCH)), encoder=encoder,
                               batch_size=BATCH)
            record(method, lambda test: score(learner, test))
        for kind, test in sets.items():
            for method, scores in references(x_train, test).items():
                rows.setdefault(method, {}).setdefault(kind, []).append(float(roc_auc_score(labels, scores)))
        print(f"  {name}, normal {normal}: " + "  ".join(
            f"{m} " + "/".join(f"{v[k][-1]:.3f}" for k in TYPES) for m, v in rows.items()), flush=True)
    return rows


def main() -> None:
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    per_table = {table: scores_on_table(table, x, y) for table, (x, y) in development_tables(True).items()}
    type_means = {table: {m: {k: round(float(np.mean(v[k])), 4) for k in TYPES} for m, v in rows.items()}
                  for table, rows in per_table.items()}
    methods = list(type_means["digits"])
    table_means = {t: {m: round(float(np.mean(list(type_means[t][m].values()))), 4) for m in methods}
                   for t in type_means}
    per_type = {m: {k: round(float(np.mean([type_means[t][m][k] for t in type_means])), 4) for k in TYPES}
                for m in methods}
    synthetic = {m: round(float(np.mean([table_means[t][m] for t in table_means])), 4) for m in methods}
    real: dict[str, float] = {}
    for file in REAL_SUITE:
        real.update(json.loads((RESULTS / file).read_text())["mean_auc"])
    combined = {m: round((synthetic[m] + real[m]) / 2, 4) for m in CANDIDATES}
    chosen = max(combined, key=combined.__getitem__)
    out = {"tables": list(per_table), "types": list(TYPES), "alpha": ALPHA, "global_margin": GLOBAL_MARGIN,
           "auc_per_class": per_table, "mean_auc_per_table_and_type": type_means, "mean_auc_per_table": table_means,
           "mean_auc_per_type": per_type, "synthetic_mean_auc": synthetic, "real_suite_mean_auc": real,
           "combined": combined, "chosen": chosen, "already_benchmarked": chosen in BENCHMARKED,
           "settings": {"batch_size": BATCH, "seed": 0,
                        "candidates": {m: {"learner": c[0], "encoder": c[1], "steps": c[2]}
                                       for m, c in CANDIDATES.items()}},
           "load_average": [round(v, 1) for v in os.getloadavg()], "time_s": round(time.perf_counter() - t0, 1)}
    (RESULTS / "table_synthetic_selection.json").write_text(json.dumps(out, indent=2))
    print("| method | " + " | ".join([*TYPES, "synthetic mean", "real suite", "combined"]) + " |\n|---|" + "---|" * 7)
    for m in methods:
        cells = [*(per_type[m][k] for k in TYPES), synthetic[m], real.get(m), combined.get(m)]
        print(f"| {m} | " + " | ".join("" if v is None else f"{v:.3f}" for v in cells) + " |")
    print(f"\nchosen: {chosen}" + (" (already on the tables benchmark)" if chosen in BENCHMARKED else ""))


if __name__ == "__main__":
    main()
