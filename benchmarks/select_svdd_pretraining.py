"""Choose Deep SVDD's autoencoder-pretraining settings on validation data only (no test set is read).

For each normal digit of one-class MNIST (bench_autoencoders.py's quick or full data, the same MLP
[512, 128] network with rep_dim 32), pretrain the bias-free autoencoder once per learning rate and
record, after each epoch budget, the reconstruction loss (MSE) on the normal *validation* images. The
budget and rate with the lowest mean validation loss are the ones bench_autoencoders.py uses; the
test images are never scored here.

    DEEPFEAT_DATA=../shared/data python benchmarks/select_svdd_pretraining.py --quick --digits 0 5 8

Writes benchmarks/results/svdd_pretraining_selection[_quick].json and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from deepfeat.data.datasets import load_dataset
from deepfeat.engine.fit_batches import FitBatches
from deepfeat.learners.ae_pretraining import pretrain_autoencoder, reconstruction_loss
from deepfeat.learners.build import build_learner

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("DEEPFEAT_DATA", str(ROOT.parent / "shared" / "data"))
ENCODER = {"name": "mlp", "hidden": [512, 128]}
LIMITS = {"quick": (10000, 2000), "full": (None, None)}


@torch.no_grad()
def val_loss(learner, decoder, data) -> float:
    learner.eval(), decoder.eval()
    losses = [reconstruction_loss(learner.embed, decoder, x) * len(x) for x, _ in data.val.batches(1024)]
    return float(sum(losses) / len(data.val))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="bench_autoencoders.py --quick's data (10k train images)")
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-4, 1e-3])
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 30, 100])
    args = parser.parse_args()
    torch.set_num_threads(1)
    name = "quick" if args.quick else "full"
    limit, test_limit = LIMITS[name]
    rows: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    for digit in args.digits:
        data = load_dataset({"name": "mnist", "limit": limit, "test_limit": test_limit}, val_fraction=0.05,
                            normal_classes=[digit], score_heldout=False)
        for lr in args.lrs:
            torch.manual_seed(0)
            learner = build_learner({"name": "deep_svdd", "rep_dim": 32}, data.info, ENCODER)
            decoder = learner.mirror_decoder()

            def measure(epoch: int, _: float, lr: float = lr, learner=learner, decoder=decoder, data=data) -> None:
                if epoch in args.epochs:
                    rows.setdefault(f"lr {lr:g}, {epoch} epochs", []).append(val_loss(learner, decoder, data))

            pretrain_autoencoder(learner, learner.embed, decoder, FitBatches(data.train, 128), lambda x: x,
                                 contextlib.nullcontext, max(args.epochs), lr, on_epoch_end=measure)
        print(f"  digit {digit} ({len(data.train)} train / {len(data.val)} val): "
              + "  ".join(f"[{k}] {v[-1]:.4f}" for k, v in rows.items()), flush=True)
    means = {k: float(np.mean(v)) for k, v in rows.items()}
    best = min(means, key=means.get)
    out = ROOT / "benchmarks" / "results" / f"svdd_pretraining_selection{'_quick' if args.quick else ''}.json"
    out.write_text(json.dumps({"mode": name, "digits": args.digits, "criterion": "mean validation reconstruction MSE",
                               "val_mse_per_digit": rows, "mean_val_mse": means, "chosen": best,
                               "load_average": [round(v, 1) for v in os.getloadavg()],
                               "time_s": round(time.perf_counter() - t0, 1)}, indent=2))
    print("\n| pretraining | mean validation MSE |\n|---|---|")
    print("\n".join(f"| {k} | {v:.4f}{' (chosen)' if k == best else ''} |" for k, v in means.items()))


if __name__ == "__main__":
    main()
