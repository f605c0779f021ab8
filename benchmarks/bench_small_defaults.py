"""Training defaults on small tables: deepfeat's auto epochs / batch size against scikit-learn's MLPClassifier.

A user's own MLP (one hidden layer of 100 ReLU units: MLPClassifier's default network) is passed to
``deepfeat.fit(..., data=(X, y))`` with nothing else set, on three small sets that ship with scikit-learn
(digits, breast_cancer, wine). MLPClassifier runs with its defaults (adam, batch min(200, n), up to 200 epochs,
stopping on a training-loss plateau) on the same split, once on the raw features and once standardized
(deepfeat standardizes per feature by default), and deepfeat with its former fixed defaults (10 epochs of batch
128) for reference. Mean test accuracy over 3 seeds (split and initialization).

    python benchmarks/bench_small_defaults.py            # the comparison, 3 seeds
    python benchmarks/bench_small_defaults.py --quick    # one seed
    python benchmarks/bench_small_defaults.py --tune     # how the rule's step target was chosen: validation only

``--tune`` never looks at the test split: it carves 25% of each training split as validation and scores the
candidate step targets of the auto rule there.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import table, write_result  # noqa: E402

import deepfeat  # noqa: E402
from deepfeat.data import validation_policy  # noqa: E402

SETS = {"digits": load_digits, "breast_cancer": load_breast_cancer, "wine": load_wine}
TARGETS = (300, 1000, 2000, 3000)  # --tune: candidate step targets of the auto rule


class UserMLP(nn.Module):
    """A user's network: Linear(d, 100) + ReLU, MLPClassifier's default hidden layer; deepfeat adds the head."""

    def __init__(self, d: int, hidden: int = 100) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, hidden), nn.ReLU())
        self.feature_dim = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def split(name: str, seed: int) -> tuple[np.ndarray, ...]:
    X, y = SETS[name](return_X_y=True)
    return train_test_split(X.astype(np.float32), y, test_size=0.25, stratify=y, random_state=seed)


def deepfeat_acc(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray, seed: int,
                 **training: int) -> tuple[float, str]:
    """Test accuracy with deepfeat's defaults (the user's module and data only; ``training`` given on top), and the
    schedule it trained."""
    cfg = {"learner": "classifier", "encoder": UserMLP(xtr.shape[1]), "seed": seed,
           "training": {"progress": "none", "threads": 1, **training},
           "evaluation": {"protocol": [], "embedding_plots": []}, "logging": {"plots": False, "report": False}}
    with tempfile.TemporaryDirectory() as tmp:
        run = deepfeat.fit(cfg, data=(xtr, ytr), test=(xte, yte), out=Path(tmp) / "run")
        t = run.config.training
        return float(run.results["test"]["test/acc"]), f"{t.epochs} epochs x batch {t.batch_size}"


def sklearn_acc(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray, seed: int,
                standardize: bool) -> float:
    model = MLPClassifier(random_state=seed)
    model = make_pipeline(StandardScaler(), model) if standardize else model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return float(model.fit(xtr, ytr).score(xte, yte))


def compare(seeds: list[int]) -> list[dict]:
    rows = []
    for name in SETS:
        acc: dict[str, list[float]] = {"deepfeat_auto": [], "deepfeat_10x128": [], "sklearn_mlp": [],
                                       "sklearn_mlp_std": []}
        for seed in seeds:
            torch.manual_seed(seed)
            xtr, xte, ytr, yte = split(name, seed)
            a, picked = deepfeat_acc(xtr, ytr, xte, yte, seed)
            acc["deepfeat_auto"].append(a)
            torch.manual_seed(seed)
            acc["deepfeat_10x128"].append(deepfeat_acc(xtr, ytr, xte, yte, seed, epochs=10, batch_size=128)[0])
            acc["sklearn_mlp"].append(sklearn_acc(xtr, ytr, xte, yte, seed, False))
            acc["sklearn_mlp_std"].append(sklearn_acc(xtr, ytr, xte, yte, seed, True))
            print(f"{name} seed {seed}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in acc.items()) + f" ({picked})",
                  flush=True)
        rows.append({"set": name, "train": len(xtr), "test": len(xte), "auto": picked,
                     **{k: float(np.mean(v)) for k, v in acc.items()}, "per_seed": acc})
    return rows


def tune(seeds: list[int]) -> list[dict]:
    """Validation accuracy of each candidate step target (25% of the training split held out; test never read)."""
    rows = []
    for name in SETS:
        row: dict = {"set": name}
        for target in TARGETS:
            validation_policy.TARGET_STEPS = target
            accs = []
            for seed in seeds:
                torch.manual_seed(seed)
                xtr, _, ytr, _ = split(name, seed)
                fit_x, val_x, fit_y, val_y = train_test_split(xtr, ytr, test_size=0.25, stratify=ytr, random_state=seed)
                accs.append(deepfeat_acc(fit_x, fit_y, val_x, val_y, seed)[0])
            row[f"steps_{target}"] = float(np.mean(accs))
            print(f"{name} target {target}: val acc {row[f'steps_{target}']:.4f}", flush=True)
        rows.append(row)
    return rows


def cpu() -> dict:
    flags = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((ln.split(":", 1)[1].strip() for ln in flags.splitlines() if ln.startswith("Model name")), "?")
    return {"model_name": model, "amx": "amx" in flags}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one seed instead of three")
    p.add_argument("--tune", action="store_true", help="score the rule's step targets on validation splits")
    a = p.parse_args()
    seeds = [0] if a.quick else [0, 1, 2]
    if a.tune:
        rows = tune(seeds)
        print(table(rows, ["set"] + [f"steps_{t}" for t in TARGETS]))
        print(write_result("small_defaults_tune", {"seeds": seeds, "cpu": cpu(), "rows": rows}))
        return
    rows = compare(seeds)
    print(table(rows, ["set", "train", "test", "auto", "deepfeat_auto", "deepfeat_10x128", "sklearn_mlp",
                       "sklearn_mlp_std"]))
    name = "small_defaults_quick" if a.quick else "small_defaults"
    print(write_result(name, {"seeds": seeds, "cpu": cpu(), "torch_threads": 1, "rows": rows}))


if __name__ == "__main__":
    main()
