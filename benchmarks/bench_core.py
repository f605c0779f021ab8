"""Core benchmark (issue 2): deepfeat's engine against a hand-written PyTorch loop on MNIST.

Three measurements, each side by side in the same process:
1. overhead: the same MLP and CNN, same data, batches, optimizer and epochs, float32, trained by
   deepfeat's Trainer and by a plain loop; ratio of wall times (target <= 1.03);
2. accuracy: MLP >= 98.3% and CNN >= 99.3% test accuracy with deepfeat's defaults;
3. speed: CNN training time until test accuracy >= 99.0% with the precision deepfeat picks by
   default on this machine (channels_last on every CPU, bf16 too on AMX CPUs), against the float32 plain loop
   trained for the same epochs (target <= 20 s on 2 cores).

4. fast (``--fast``): examples/configs/mnist_fast.yaml. First its recipe on the validation split (5,000
   training images held out; what the recipe was chosen on), then time-to-99: trained on all 60,000
   images, the test split only watched after each epoch (DAWNBench style; training wall time counts, the
   watching does not), then an ablation: from the core CNN recipe, each change of mnist_fast added in
   turn, with its time-to-99 (target <= 20 s on 2 cores, quiet machine).

    python benchmarks/bench_core.py [--quick]     # overhead, accuracy, speed (~10 min quiet; --quick ~2 min)
    python benchmarks/bench_core.py --fast        # mnist_fast: validation, time-to-99 x 3 seeds, ablation (~25 min quiet)
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
import torch.nn.functional as F

from _common import table, write_result
from deepfeat.data.datasets import load_dataset
from deepfeat.data.splits import DataBundle
from deepfeat.engine.callbacks import Callback
from deepfeat.engine.seeding import epoch_generator, seed_everything
from deepfeat.engine.inference import evaluate_split
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.engine.device import resolve_precision
from deepfeat.learners.build import build_learner
from fast import fast_benchmark

MLP = {"name": "mlp", "hidden": [1024, 1024], "dropout": 0.2}
CNN = {"name": "cnn", "channels": [32, 64, 128], "norm": "batch", "pool": "max"}
OPT = {"name": "adamw", "lr": 2e-3, "weight_decay": 0.05}


def plain_loop(learner: torch.nn.Module, data: DataBundle, epochs: int, batch_size: int, seed: int) -> float:
    """The reference: the loop a PyTorch user writes by hand (float32, same batches). Returns seconds."""
    # The optimizer implementation deepfeat builds (torch's fused AdamW), so the ratio measures the engine alone;
    # bench_peers.py compares with torch's default implementation, as a user writes it.
    opt = torch.optim.AdamW(learner.parameters(), lr=OPT["lr"], weight_decay=OPT["weight_decay"], fused=True)
    x_all, y_all = data.train.x, data.train.y
    t0 = time.perf_counter()
    for epoch in range(epochs):
        learner.train()
        perm = torch.randperm(len(x_all), generator=epoch_generator(seed, epoch))
        for i in range(0, len(perm), batch_size):
            idx = perm[i: i + batch_size]
            loss = F.cross_entropy(learner(x_all[idx]), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


class TrainClock(Callback):
    """Training time per epoch, excluding validation; and the first epoch reaching a target."""

    def __init__(self, key: str = "val/acc", target: float = 0.99) -> None:
        self.key, self.target = key, target
        self.train_s: list[float] = []
        self.reached: int | None = None

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        self.t0 = time.perf_counter()

    def on_step_end(self, trainer: Trainer, metrics: dict[str, torch.Tensor]) -> None:
        self.t_last = time.perf_counter()

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        self.train_s.append(self.t_last - self.t0)
        if self.reached is None and logs.get(self.key, 0.0) >= self.target:
            self.reached = epoch + 1
            trainer.stop(f"reached {self.key} >= {self.target}")


def deepfeat_fit(encoder: dict[str, Any], data: DataBundle, epochs: int, batch_size: int, seed: int,
                 precision: str = "fp32", schedule: Any = "constant", clock: TrainClock | None = None) -> tuple[float, Any]:
    """``precision="fp32"``: also the default memory format, the same work as :func:`plain_loop`; ``"auto"``: what
    deepfeat picks on this machine (channels_last for conv nets on every CPU, bf16 where it is fast)."""
    seed_everything(seed)
    learner = build_learner("classifier", data.info, encoder)
    cfg = TrainingConfig(epochs=epochs, batch_size=batch_size, precision=precision, progress="none", restore_best=False,
                         channels_last="auto" if precision == "auto" else False)
    t0 = time.perf_counter()
    Trainer(cfg, seed=seed, callbacks=[clock] if clock else []).fit(learner, data, optimizer=OPT, schedule=schedule)
    return time.perf_counter() - t0, learner


def test_acc(learner: Any, data: DataBundle, precision: str = "fp32") -> float:
    p = resolve_precision(precision, torch.device("cpu"), learner)
    return evaluate_split(learner, data.test, "test", p)["test/acc"]


def overhead(data: DataBundle, encoder: dict[str, Any], epochs: int, batch_size: int, repeats: int) -> dict[str, Any]:
    """Min over repeats of each side, alternating the order so drift hits both equally."""
    ours, ref = [], []
    for r in range(repeats):
        for side in ("deepfeat", "plain") if r % 2 == 0 else ("plain", "deepfeat"):
            if side == "deepfeat":
                ours.append(deepfeat_fit(encoder, data, epochs, batch_size, seed=r)[0])
            else:
                seed_everything(r)
                ref.append(plain_loop(build_learner("classifier", data.info, encoder), data, epochs, batch_size, r))
    return {"model": encoder["name"], "epochs": epochs, "deepfeat_s": min(ours), "plain_s": min(ref),
            "ratio": min(ours) / min(ref)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 10k-image subset and fewer epochs (a smoke run)")
    parser.add_argument("--fast", action="store_true", help="mnist_fast.yaml: validation, time-to-99, ablation")
    parser.add_argument("--no-ablation", action="store_true", help="with --fast: skip the ablation")
    parser.add_argument("--limit", type=int, default=None, help="with --fast: that many training images (a smoke run)")
    args = parser.parse_args()
    if args.fast:
        name = "core_fast_smoke" if args.limit else "core_fast"
        print(f"written: {write_result(name, fast_benchmark(ablation=not args.no_ablation, limit=args.limit))}")
        return
    limit = 10000 if args.quick else None
    train_val = load_dataset({"name": "mnist", "limit": limit}, val_fraction=0.0)
    # For time-to-accuracy the test split is watched each epoch (DAWNBench style); it picks nothing.
    watched = DataBundle(train_val.info, train_val.train, train_val.test, train_val.test)

    results: dict[str, Any] = {"quick": args.quick, "train_samples": len(train_val.train)}
    results["overhead"] = [
        overhead(train_val, MLP, 1 if args.quick else 3, 128, repeats=2 if args.quick else 3),
        overhead(train_val, CNN, 1, 128, repeats=1 if args.quick else 2),
    ]
    print(table(results["overhead"], ["model", "epochs", "deepfeat_s", "plain_s", "ratio"]))

    acc_rows = []
    for enc, epochs, target in ((MLP, 4 if args.quick else 20, 0.983), (CNN, 2 if args.quick else 12, 0.993)):
        secs, learner = deepfeat_fit(enc, train_val, epochs, 128, seed=0, precision="auto",
                                     schedule={"name": "one_cycle"})
        acc_rows.append({"model": enc["name"], "epochs": epochs, "test_acc": test_acc(learner, train_val, "auto"),
                         "target": target, "wall_s": secs})
    results["accuracy"] = acc_rows
    print(table(acc_rows, ["model", "epochs", "test_acc", "target", "wall_s"]))

    clock = TrainClock("val/acc", 0.99)
    max_epochs = 3 if args.quick else 6
    deepfeat_fit(CNN, watched, max_epochs, 128, seed=0, precision="auto", schedule={"name": "one_cycle"}, clock=clock)
    epochs = clock.reached or max_epochs
    seed_everything(0)
    ref_learner = build_learner("classifier", train_val.info, CNN)
    ref_s = plain_loop(ref_learner, train_val, epochs, 128, 0)
    speed = {"model": "cnn", "precision": "auto", "epochs_to_99": clock.reached, "deepfeat_train_s": sum(clock.train_s[:epochs]),
             "plain_fp32_same_epochs_s": ref_s, "plain_fp32_test_acc": test_acc(ref_learner, train_val), "target_s": 20.0}
    results["speed"] = speed
    print(table([speed], list(speed)))
    print(f"written: {write_result('core_quick' if args.quick else 'core', results)}")


if __name__ == "__main__":
    main()
