"""Text benchmark (issue 10): SMS spam with 10, 50 and all labels per class, five methods side by side.

One fixed, seeded, stratified split of the UCI SMS Spam Collection (80% train / 20% test, 13.4%
spam in both). For each labels-per-class budget one seeded subset of the training split is drawn
(:func:`deepfeat.eval.fewshot.draw_per_class`, the draw of :mod:`deepfeat.run.evaluations.low_label`) and every method
trains on that same subset; all are scored on the same test split (accuracy, spam F1, ROC-AUC of the
spam probability, by scikit-learn) with the wall time of each cell:

- ``tfidf_logreg``: the classic baseline, scikit-learn's TF-IDF (word 1-2-grams) + logistic regression
  (C chosen by 5-fold cross-validation on the labelled subset);
- ``word_gru``: bidirectional word GRU from scratch (``text_rnn``, ``classifier`` learner);
- ``char_cnn``: causal dilated char CNN from scratch (``text_tcn`` over characters);
- ``minilm_probe``: frozen all-MiniLM-L6-v2 features + logistic regression (deepfeat's linear probe recipe);
- ``minilm_finetune``: MiniLM fine-tuned with the ``transfer`` learner and layer-wise LR decay.

Vocabularies (word, char) and the TF-IDF vocabulary/IDF are fitted on all training texts (no labels);
labels come from the subset only. Networks train through deepfeat's Trainer for at least ``steps``
optimizer steps, rounded up to whole epochs (so "all" gets whole passes over the 4,459 messages).
Inference runs over length-sorted batches, which the MiniLM encoder trims to their longest text.

    OMP_NUM_THREADS=1 python benchmarks/bench_text.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from typing import Any, NamedTuple

import numpy as np
import torch
from _common import table, write_result
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deepfeat.data.bundle import LoadOptions, encode_labels, split_indices, subsample
from deepfeat.data.datasets import data_root, load_dataset
from deepfeat.data.splits import DataBundle, TensorSplit
from deepfeat.data.text import SMS_FILE, read_sms_spam
from deepfeat.engine.device import Precision
from deepfeat.engine.inference import collect
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.eval.fewshot import draw_per_class
from deepfeat.learners.build import build_learner

SEED = 0
TEST_FRACTION = 0.2
BUDGETS: list[int | str] = [10, 50, "all"]
CPU = Precision(torch.device("cpu"), None, False)

# Each network method: its tokenizer, encoder, learner, optimizer and training length.
NETWORKS: dict[str, dict[str, Any]] = {
    "word_gru": {
        "tokenizer": {"name": "word", "max_length": 48, "min_freq": 2, "max_size": 8000},
        "encoder": {"name": "text_rnn", "vocab_size": 8000, "embed_dim": 64, "hidden_size": 64, "bidirectional": True},
        "learner": {"name": "classifier"}, "optimizer": {"name": "adam", "lr": 3e-3}, "steps": 300, "batch_size": 64,
    },
    "char_cnn": {
        "tokenizer": {"name": "char", "max_length": 160, "max_size": 200},
        "encoder": {"name": "text_tcn", "vocab_size": 200, "embed_dim": 32, "channels": [64, 64, 64], "kernel_size": 5},
        "learner": {"name": "classifier"}, "optimizer": {"name": "adam", "lr": 3e-3}, "steps": 200, "batch_size": 64,
    },
    "minilm_finetune": {
        "tokenizer": {"name": "pretrained", "model": "all-MiniLM-L6-v2", "max_length": 64},
        "encoder": {"name": "pretrained_text", "model": "all-MiniLM-L6-v2"},
        "learner": {"name": "transfer", "mode": "fine_tune"},
        "optimizer": {"name": "adamw", "lr": 2e-4, "weight_decay": 0.01, "layer_decay": 0.7},
        "steps": 40, "batch_size": 16, "warmup": 0.1,
    },
}
PROBE = {"encoder": NETWORKS["minilm_finetune"]["encoder"], "learner": {"name": "transfer", "mode": "linear_probe"}}
METHODS = ["tfidf_logreg", "word_gru", "char_cnn", "minilm_probe", "minilm_finetune"]


class RawSplit(NamedTuple):
    """The fixed split as raw texts and label codes, in the order of the ``sms_spam`` dataset's splits."""

    train_texts: list[str]
    test_texts: list[str]
    y_train: np.ndarray
    y_test: np.ndarray
    class_names: list[str]


def raw_split(limit: int | None) -> RawSplit:
    """The texts of the split ``load_dataset("sms_spam", seed=0, val_fraction=0, test_fraction=0.2)`` makes."""
    texts, labels = read_sms_spam(data_root() / "sms_spam" / SMS_FILE)
    (codes,), names = encode_labels(np.asarray(labels, dtype=str))
    keep = subsample(codes, limit, LoadOptions(seed=SEED), names)
    arr = np.asarray(texts, dtype=object)
    if keep is not None:
        arr, codes = arr[keep], codes[keep]
    train, _, test = split_indices(len(codes), codes, [0.0, TEST_FRACTION], SEED)
    return RawSplit(list(arr[train]), list(arr[test]), codes[train], codes[test], list(names))


def by_length(split: TensorSplit) -> tuple[TensorSplit, np.ndarray]:
    """The split sorted by text length (pad id 0 for every tokenizer here), and the sorting order."""
    order = torch.argsort((split.x != 0).sum(1), stable=True)
    return TensorSplit(split.x[order], split.y[order]), order.numpy()


def scores(probs: np.ndarray, y: np.ndarray, spam: int) -> dict[str, float]:
    """Accuracy, spam F1 and ROC-AUC of the spam probability, from class probabilities ``(N, 2)``."""
    pred = probs.argmax(1)
    return {"accuracy": float(accuracy_score(y, pred)), "spam_f1": float(f1_score(y == spam, pred == spam)),
            "roc_auc": float(roc_auc_score(y == spam, probs[:, spam]))}


def tfidf_logreg(train_texts: list[str], idx: np.ndarray, y: np.ndarray, test_texts: list[str]) -> np.ndarray:
    """TF-IDF fitted on every training text (no labels), logistic regression on the labelled ``idx``.

    TF-IDF rows are small (unit L2 norm over ~30k n-grams): the default C=1 underfits them, so C is
    picked by 5-fold cross-validated log loss on the labelled subset alone, as a careful user would.
    """
    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(train_texts)
    with warnings.catch_warnings():  # scikit-learn 1.8's notices about future defaults
        warnings.simplefilter("ignore", FutureWarning)
        clf = LogisticRegressionCV(Cs=10, cv=5, scoring="neg_log_loss", max_iter=1000)
        clf.fit(tfidf.transform([train_texts[i] for i in idx]), y[idx])
    return clf.predict_proba(tfidf.transform(test_texts))


def train_network(method: str, data: DataBundle, subset: DataBundle, test: TensorSplit,
                  learner_spec: dict[str, Any] | None = None) -> np.ndarray:
    """Train ``method``'s learner (or ``learner_spec`` with its encoder and recipe) on ``subset`` with the Trainer;
    test class probabilities ``(N, 2)``."""
    spec = NETWORKS[method]
    torch.manual_seed(SEED)
    learner = build_learner(learner_spec or spec["learner"], data.info, spec["encoder"])
    batch = min(spec["batch_size"], len(subset.train))
    epochs = math.ceil(spec["steps"] / subset.train.num_batches(batch))
    cfg = TrainingConfig(epochs=epochs, batch_size=batch, progress="none", restore_best=False,
                         monitor="train/loss", device="cpu", precision="fp32", threads=torch.get_num_threads())
    schedule = {"name": "cosine", "warmup_epochs": spec.get("warmup", 0.0) * epochs}
    Trainer(cfg, seed=SEED).fit(
        learner, subset, optimizer=spec["optimizer"], schedule=schedule)
    return collect(learner, test, CPU, learner.predict_proba, batch_size=64)[0]


def minilm_probe(data: DataBundle, subset: DataBundle, test: TensorSplit) -> np.ndarray:
    """Frozen MiniLM features, standardized, + L2 logistic regression (C=1, lbfgs): test probabilities."""
    learner = build_learner(PROBE["learner"], data.info, PROBE["encoder"])
    train_z, train_y = collect(learner, by_length(subset.train)[0], CPU, learner.embed, batch_size=64)
    test_z, _ = collect(learner, test, CPU, learner.embed, batch_size=64)
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000, random_state=SEED))
    return probe.fit(train_z, train_y).predict_proba(test_z)


def load_bundles(limit: int | None, y_train: np.ndarray) -> tuple[dict[str, DataBundle], dict[str, float]]:
    """One bundle per tokenizer (word, char, MiniLM), each with the same split; and the load times."""
    bundles, secs = {}, {}
    for method in NETWORKS:
        t0 = time.perf_counter()
        bundle = load_dataset({"name": "sms_spam", "tokenizer": NETWORKS[method]["tokenizer"], "limit": limit},
                              seed=SEED, val_fraction=0.0, test_fraction=TEST_FRACTION)
        secs[method] = round(time.perf_counter() - t0, 2)
        if not np.array_equal(bundle.train.y.numpy(), y_train):
            raise RuntimeError(f"the {method} bundle's training split differs from the raw split")
        bundles[method] = bundle
    bundles["minilm_probe"] = bundles["minilm_finetune"]
    return bundles, secs


def run_cell(method: str, idx: np.ndarray, raw: RawSplit, bundles: dict[str, DataBundle]) -> np.ndarray:
    """Test probabilities ``(N_test, 2)`` of ``method`` trained on the training samples ``idx``."""
    if method == "tfidf_logreg":
        return tfidf_logreg(raw.train_texts, idx, raw.y_train, raw.test_texts)
    data = bundles[method]
    rows = torch.from_numpy(idx)
    subset = DataBundle(data.info, TensorSplit(data.train.x[rows], data.train.y[rows]))
    test, order = by_length(data.test)
    probs = minilm_probe(data, subset, test) if method == "minilm_probe" else train_network(method, data, subset, test)
    out = np.empty_like(probs)
    out[order] = probs  # back to the test split's order, the order of the labels
    return out


def labelled_indices(y_train: np.ndarray, k: int | str) -> np.ndarray:
    """Training-split indices of the ``k``-labels-per-class subset (the draw of :mod:`deepfeat.run.evaluations.low_label`)."""
    if k == "all":
        return np.arange(len(y_train))
    return draw_per_class(y_train, int(k), np.random.default_rng([SEED, int(k), 0]))


def run_all(raw: RawSplit, bundles: dict[str, DataBundle], spam: int) -> list[dict[str, Any]]:
    """One row per (budget, method): test scores and the cell's wall time."""
    rows: list[dict[str, Any]] = []
    for k in BUDGETS:
        idx = labelled_indices(raw.y_train, k)
        for method in METHODS:
            t0, c0 = time.perf_counter(), time.process_time()
            probs = run_cell(method, idx, raw, bundles)
            # CPU seconds of this process too: on a shared machine the wall time grows with the load.
            rows.append({"method": method, "labels/class": k, "train_samples": len(idx),
                         **scores(probs, raw.y_test, spam), "time_s": round(time.perf_counter() - t0, 1),
                         "cpu_s": round(time.process_time() - c0, 1)})
            print(table(rows[-1:], list(rows[-1])).splitlines()[-1], flush=True)
    return rows


SETTINGS = {
    "networks": NETWORKS,
    "probe": {**PROBE, "classifier": "StandardScaler + LogisticRegression(C=1, lbfgs)"},
    "tfidf_logreg": "TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True) fitted on all training texts "
                    "+ LogisticRegressionCV(Cs=10, cv=5, scoring='neg_log_loss') on the labelled subset",
    "training": "Trainer, >= steps optimizer steps rounded up to whole epochs, cosine schedule, fp32, CPU",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="600 messages, short training (~2-3 min)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on shared machines)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    limit = 600 if args.quick else None
    if args.quick:
        for spec, steps in zip(NETWORKS.values(), (60, 60, 10)):
            spec["steps"] = steps
    load_before = os.getloadavg()
    raw = raw_split(limit)
    y_train, y_test, spam = raw.y_train, raw.y_test, raw.class_names.index("spam")
    bundles, load_s = load_bundles(limit, y_train)
    rows = run_all(raw, bundles, spam)
    print(table(rows, ["method", "labels/class", "train_samples", "accuracy", "spam_f1", "roc_auc", "time_s", "cpu_s"]))
    split = {"seed": SEED, "train": len(y_train), "test": len(y_test), "train_spam": int((y_train == spam).sum()),
             "test_spam": int((y_test == spam).sum()), "limit": limit}
    path = write_result("text_quick" if args.quick else "text", {
        "quick": args.quick, "split": split, "budgets": BUDGETS, "settings": {**SETTINGS, "threads": args.threads},
        "load_s": load_s, "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "rows": rows,
        "reference": "Almeida et al. 2011 (SMS Spam Collection paper), best classifier, linear SVM on tokens: "
                     "97.64% accuracy on their own train/test split"})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
