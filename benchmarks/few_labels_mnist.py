"""MNIST with 5 labels per class after label-free pretraining on the 60k unlabelled training images.

The cheapest recipes that fit a shared 2-core CPU (:data:`RECIPES`): SimCLR with a small CNN for 3 epochs over the
60k training images (labels unused), the encoder's features computed once, then each label draw is used by a
classifier on those frozen features. Which classifier (a logistic regression at a few strengths, kNN, or
label spreading over the kNN graph of the training pool, labelled and unlabelled, then a kNN vote of the
spread labels) is chosen on validation draws: labels drawn from the first 50k training images, accuracy on the last 10k.
The test set is only read for the chosen classifier's final numbers (and the standard logistic probe's, beside it). Scratch (the same CNN trained on the
labelled draw only, the low-label evaluation's ``scratch``) runs on the same test draws
(:func:`deepfeat.run.evaluations.low_label.label_draws`, seed 0) for comparison.

    python benchmarks/bench_few_labels.py --mnist [--recipe mnist_simclr]   # 15-30 min each on 2 shared CPU cores
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from deepfeat.data.datasets import load_dataset
from deepfeat.data.splits import DataBundle
from deepfeat.engine.device import Precision
from deepfeat.engine.inference import collect
from deepfeat.eval.probes import majority_vote, nearest_neighbours
from deepfeat.learners.build import build_learner
from deepfeat.run.evaluations.low_label import LowLabelConfig, label_draws, low_label_accuracy
from deepfeat.run.model_io import load_model

# Pretraining recipes, cheapest first. "small": a 16-32-64 CNN, 3 epochs of 256, crops and brightness only (blur costs
# a third of a step). "mnist_simclr": the settings of examples/configs/mnist_simclr.yaml (a 98.1% linear probe with
# every label): a 32-64-128 CNN, 3 epochs of 128 (twice the steps), crops from 30% of the area, blur, AdamW 3e-3.
RECIPES: dict[str, dict[str, Any]] = {
    "small": {"encoder": {"name": "cnn", "channels": [16, 32, 64], "norm": "batch", "pool": "max"},
              "learner": {"name": "simclr", "temperature": 0.2, "projection_dim": 64,
                          "augment": {"name": "image", "crop_scale": [0.4, 1.0], "blur_p": 0.0}},
              "batch_size": 256, "lr": 2e-3},
    "mnist_simclr": {"encoder": {"name": "cnn", "channels": [32, 64, 128], "norm": "batch", "pool": "max"},
                     "learner": {"name": "simclr", "temperature": 0.2, "projection_dim": 64, "projection_hidden": 512,
                                 "augment": {"name": "image", "crop_scale": [0.3, 1.0], "jitter": 0.4, "blur_p": 0.5}},
                     "batch_size": 128, "lr": 3e-3},
}
VAL_SIZE = 10_000
LABELS = [1, 5, 10, 50]
# A classifier: (features (N, D), labels (N,), label draws [indices], evaluated features) -> predictions per draw.
Classifier = Callable[[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray], list[np.ndarray]]


def _logistic(c: float) -> Classifier:
    def fit(z: np.ndarray, y: np.ndarray, draws: list[np.ndarray], z_eval: np.ndarray) -> list[np.ndarray]:
        preds = []
        for idx in draws:
            scaler = StandardScaler().fit(z[idx])
            clf = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(z[idx]), y[idx])
            preds.append(clf.predict(scaler.transform(z_eval)))
        return preds
    return fit


def _knn(k: int) -> Classifier:
    def fit(z: np.ndarray, y: np.ndarray, draws: list[np.ndarray], z_eval: np.ndarray) -> list[np.ndarray]:
        return [KNeighborsClassifier(min(k, len(idx)), metric="cosine").fit(z[idx], y[idx]).predict(z_eval)
                for idx in draws]
    return fit


def _spreading(neighbours: int, alpha: float, iterations: int = 50) -> Classifier:
    """Label spreading (Zhou et al. 2004) over the kNN graph of the whole training pool (labelled and unlabelled),
    then a 10-NN vote of the pool's spread labels for each evaluated sample, which never enters the graph.
    The graph is built once for all draws."""
    def fit(z: np.ndarray, y: np.ndarray, draws: list[np.ndarray], z_eval: np.ndarray) -> list[np.ndarray]:
        z32 = np.ascontiguousarray(z, np.float32)
        near = nearest_neighbours(z32, z32, neighbours + 1, "cosine")[:, 1:]  # each sample's own row is its nearest
        rows = np.repeat(np.arange(len(z)), neighbours)
        w = sparse.csr_matrix((np.ones(rows.size), (rows, near.ravel())), shape=(len(z), len(z)))
        w = (w + w.T) * 0.5
        d = np.asarray(w.sum(1)).ravel() ** -0.5
        s = sparse.diags(d) @ w @ sparse.diags(d)
        near = nearest_neighbours(z32, np.ascontiguousarray(z_eval, np.float32), 10, "cosine")
        preds = []
        for idx in draws:
            seeds = np.zeros((len(z), int(y.max()) + 1))
            seeds[idx, y[idx]] = 1.0
            f = seeds.copy()
            for _ in range(iterations):
                f = alpha * (s @ f) + (1 - alpha) * seeds
            votes = f.argmax(1)[near]
            preds.append(majority_vote(votes, np.arange(seeds.shape[1])))
        return preds
    return fit


CANDIDATES: dict[str, Classifier] = {"logistic C=0.1": _logistic(0.1), "logistic C=1": _logistic(1.0),
                                     "logistic C=10": _logistic(10.0), "knn k=1": _knn(1), "knn k=5": _knn(5),
                                     "label spreading k=10": _spreading(10, 0.99)}


def _features(directory: Path, data: DataBundle) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    learner, _ = load_model(directory)
    precision = Precision(torch.device("cpu"), None, False)
    z_train, y_train = collect(learner, data.train, precision, learner.embed)
    z_test, y_test = collect(learner, data.test, precision, learner.embed)
    return z_train, y_train, z_test, y_test


def _score(fit: Classifier, z: np.ndarray, y: np.ndarray, draws: list[np.ndarray], z_eval: np.ndarray,
           y_eval: np.ndarray) -> list[float]:
    return [round(float(np.mean(pred == y_eval)), 4) for pred in fit(z, y, draws, z_eval)]


def _summary(scores: list[float]) -> dict[str, Any]:
    return {"mean": round(float(np.mean(scores)), 4), "std": round(float(np.std(scores)), 4), "draws": scores}


def run_mnist(pretrain: Callable[..., dict[str, Any]], budget: Any, work: Path, recipe: str,
              save: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """Pretrain by ``recipe``, choose the classifier on validation draws, then test it (and scratch) on the test draws;
    ``save`` gets the result so far after each step."""
    data = load_dataset({"name": "mnist"}, val_fraction=0.0)
    encoder, learner = RECIPES[recipe]["encoder"], RECIPES[recipe]["learner"]
    out: dict[str, Any] = {"recipe": recipe, **RECIPES[recipe], "val_size": VAL_SIZE}
    folder = work / f"mnist-{recipe}"
    record = folder.with_suffix(".json")  # a kept --work folder reuses its pretrained encoder
    if not record.is_file():
        record.write_text(json.dumps(pretrain("simclr", learner, data, encoder, budget, folder)))
    out["pretraining"] = json.loads(record.read_text())
    t0 = time.perf_counter()
    z, y, z_test, y_test = _features(folder, data)
    out["embed_s"] = round(time.perf_counter() - t0, 1)
    fit_pool, val = np.arange(len(y) - VAL_SIZE), np.arange(len(y) - VAL_SIZE, len(y))
    val_draws = label_draws(y[fit_pool], 5, budget.draws, seed=1)
    out["validation"] = {name: _summary(_score(fit, z[fit_pool], y[fit_pool], val_draws, z[val], y[val]))
                         for name, fit in CANDIDATES.items()}
    chosen = max(out["validation"], key=lambda name: out["validation"][name]["mean"])
    out["chosen"] = chosen
    print(f"chosen on validation draws: {chosen}", flush=True)
    out["test"] = {}
    draws = [idx for k in LABELS for idx in label_draws(y, k, budget.draws, seed=0)]  # one call: one spreading graph
    for name in dict.fromkeys([chosen, "logistic C=1"]):
        scores = _score(CANDIDATES[name], z, y, draws, z_test, y_test)
        out["test"][name] = {str(k): _summary(scores[i * budget.draws:(i + 1) * budget.draws]) for i, k in enumerate(LABELS)}
    save(out)
    t0 = time.perf_counter()
    scratch = low_label_accuracy(data, encoder, LowLabelConfig(labels_per_class=[5, 50], methods=["scratch"],
                                                               steps=budget.steps, repeats=budget.draws),
                                 build_learner("transfer", data.info, encoder))
    out["test"]["scratch"] = {k: {"mean": scratch["scratch"][k], "std": scratch["std"][f"scratch@{k}"],
                                  "draws": scratch["draws"][f"scratch@{k}"]} for k in scratch["scratch"]}
    out["scratch_s"] = round(time.perf_counter() - t0, 1)
    save(out)
    return out


def mnist_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per way of using the labels: mean +- std over draws per labels-per-class cell."""
    rows = []
    for name, cells in result["test"].items():
        row = {"method": "scratch" if name == "scratch" else f"simclr + {name}"}
        row.update({f"{k}/class": f"{c['mean']:.4f} +- {c['std']:.4f}" for k, c in cells.items()})
        rows.append(row)
    return rows
