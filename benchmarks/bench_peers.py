"""Peers side by side (issue 19): the same MLP and CNN trained by deepfeat, a hand-written PyTorch loop,
skorch and Keras 3 on JAX, in one process, alternating the order; plus how close training gets to the
machine's matmul peak.

Models (identical architecture and initial recipe for every trainer):
- MLP: 784-512-512-10, ReLU;
- CNN: 2 x [conv3x3 (32, 64 channels) + BatchNorm + ReLU + 2x2 max-pool], flatten, fc128 + ReLU, dropout 0.5, fc10.
Same MNIST arrays (normalized by deepfeat's loader), Adam lr 1e-3, batch 128, same epochs.

Two settings: ``defaults`` (each trainer as a user gets it: deepfeat picks its precision, fused optimizer
and memory format; the others run float32) and ``fp32`` (everyone float32). Reported per trainer: the
seconds of each training epoch (the first includes Keras' XLA compilation; ``steady_s`` is the fastest
epoch) and the test accuracy. Peers missing from the environment are skipped with a message
(``pip install -e ".[bench]"`` installs them).

Hardware section: bf16 and fp32 GEMM throughput (a 2048^3 matmul, best of several), and the achieved
training FLOP/s (FLOPs of one step counted by torch.utils.flop_counter.FlopCounterMode, divided by the
measured step time) for the CNN at batch 128 and the MLP at batch 4096, as a fraction of the peak of
the dtype they ran in.

    python benchmarks/bench_peers.py            # full MNIST, 2 epochs x 2 repeats (~25-40 min quiet, 2 cores)
    python benchmarks/bench_peers.py --quick    # 10k images, 1 epoch, 1 repeat (~4-6 min quiet)

Writes benchmarks/results/peers[_quick].json and .md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any, Callable

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from _common import RESULTS, machine, table, write_result
from deepfeat.data.datasets import load_dataset
from deepfeat.data.splits import DataBundle
from deepfeat.engine.callbacks import Callback
from deepfeat.engine.device import resolve_precision
from deepfeat.engine.seeding import seed_everything
from deepfeat.engine.inference import evaluate_split
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.learners.build import build_learner

LR, BATCH = 1e-3, 128
SPECS = {
    "mlp": ({"name": "classifier"}, {"name": "mlp", "hidden": [512, 512]}),
    "cnn": ({"name": "classifier", "head_dropout": 0.5},
            {"name": "cnn", "channels": [32, 64], "norm": "batch", "pool": "max", "global_pool": "flatten", "hidden": [128]}),
}


def torch_module(model: str) -> nn.Module:
    """The same network written out in plain PyTorch (for the hand loop and skorch)."""
    if model == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))

    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                         nn.Dropout(0.5), nn.Linear(128, 10))


# -- the trainers: each returns (seconds of each epoch, test accuracy) --------------------------------------

class _EpochClock(Callback):
    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        self.t0 = time.perf_counter()

    def on_step_end(self, trainer: Any, metrics: Any) -> None:
        self.t1 = time.perf_counter()

    def on_fit_start(self, trainer: Any) -> None:
        self.epochs: list[float] = []

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Any) -> None:
        self.epochs.append(self.t1 - self.t0)


def run_deepfeat(model: str, data: DataBundle, epochs: int, fp32: bool, seed: int) -> tuple[list[float], float]:
    seed_everything(seed)
    learner_spec, encoder = SPECS[model]
    learner = build_learner(learner_spec, data.info, encoder)
    clock = _EpochClock()
    precision = "fp32" if fp32 else "auto"
    cfg = TrainingConfig(epochs=epochs, batch_size=BATCH, precision=precision, progress="none", restore_best=False)
    Trainer(cfg, seed=seed, callbacks=[clock]).fit(learner, data, optimizer={"name": "adam", "lr": LR})
    p = resolve_precision(precision, torch.device("cpu"), learner)
    return clock.epochs, evaluate_split(learner, data.test, "test", p)["test/acc"]


def run_hand(model: str, data: DataBundle, epochs: int, fp32: bool, seed: int) -> tuple[list[float], float]:
    """The loop a PyTorch user writes: float32, torch's default Adam, shuffled index batches."""
    torch.manual_seed(seed)
    net = torch_module(model)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    x, y = data.train.x, data.train.y
    times = []
    for _ in range(epochs):
        net.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), BATCH):
            idx = perm[i:i + BATCH]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    net.eval()
    with torch.no_grad():
        acc = float(torch.cat([net(xb).argmax(1) for xb in data.test.x.split(1024)]).eq(data.test.y).float().mean())
    return times, acc


def run_skorch(model: str, data: DataBundle, epochs: int, fp32: bool, seed: int) -> tuple[list[float], float]:
    from skorch import NeuralNetClassifier

    torch.manual_seed(seed)
    net = NeuralNetClassifier(torch_module(model), criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=LR,
                              batch_size=BATCH, max_epochs=epochs, train_split=None, iterator_train__shuffle=True,
                              device="cpu", verbose=0)
    net.fit(data.train.x.numpy(), data.train.y.numpy())
    times = [float(row["dur"]) for row in net.history]
    acc = float((net.predict(data.test.x.numpy()) == data.test.y.numpy()).mean())
    return times, acc


def run_keras(model: str, data: DataBundle, epochs: int, fp32: bool, seed: int) -> tuple[list[float], float]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    if model == "mlp":
        net = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(512, activation="relu"),
                                layers.Dense(512, activation="relu"), layers.Dense(10)])
    else:
        def block(c: int) -> list[Any]:
            return [layers.Conv2D(c, 3, padding="same", use_bias=False), layers.BatchNormalization(),
                    layers.ReLU(), layers.MaxPooling2D(2)]
        net = keras.Sequential([keras.Input((28, 28, 1)), *block(32), *block(64), layers.Flatten(),
                                layers.Dense(128, activation="relu"), layers.Dropout(0.5), layers.Dense(10)])
    net.compile(optimizer=keras.optimizers.Adam(LR), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
    x = data.train.x.permute(0, 2, 3, 1).numpy()  # Keras convolutions are channels-last
    times: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            times.append(time.perf_counter() - self.t0)

    net.fit(x, data.train.y.numpy(), batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0, callbacks=[Clock()])
    logits = net.predict(data.test.x.permute(0, 2, 3, 1).numpy(), batch_size=1024, verbose=0)
    return times, float((np.asarray(logits).argmax(1) == data.test.y.numpy()).mean())


PEERS: dict[str, tuple[Callable[..., tuple[list[float], float]], str | None]] = {
    "deepfeat": (run_deepfeat, None), "hand": (run_hand, None), "skorch": (run_skorch, "skorch"),
    "keras_jax": (run_keras, "keras"),
}


def available() -> dict[str, Callable[..., tuple[list[float], float]]]:
    out = {}
    for name, (fn, module) in PEERS.items():
        if module is not None:
            try:
                __import__(module)
            except ImportError:
                print(f"skipped {name}: `{module}` is not installed (pip install -e \".[bench]\")")
                continue
        out[name] = fn
    return out


def side_by_side(data: DataBundle, epochs: int, repeats: int) -> list[dict[str, Any]]:
    """Every (setting, model, trainer) run ``repeats`` times, the trainers' order reversed on every other repeat."""
    peers = available()
    rows = []
    for setting in ("defaults", "fp32"):
        for model in ("mlp", "cnn"):
            runs: dict[str, list[tuple[list[float], float]]] = {p: [] for p in peers}
            for r in range(repeats):
                order = list(peers) if r % 2 == 0 else list(peers)[::-1]
                for name in order:
                    runs[name].append(peers[name](model, data, epochs, setting == "fp32", r))
                    print(f"  {setting} {model} {name} repeat {r}: {runs[name][-1]}", flush=True)
            hand = statistics.median(min(t) for t, _ in runs["hand"]) if "hand" in runs else None
            for name, results in runs.items():
                steady = statistics.median(min(t) for t, _ in results)
                rows.append({"setting": setting, "model": model, "trainer": name,
                             "first_epoch_s": statistics.median(t[0] for t, _ in results), "steady_s": steady,
                             "vs_hand": hand / steady if hand else None,
                             "test_acc": statistics.median(a for _, a in results)})
    return rows


# -- how close to the hardware -----------------------------------------------------------------------------

def gemm_peak(dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    """FLOP/s of an n x n x n matmul in ``dtype`` (best of ``reps``)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def achieved(model: str, data: DataBundle, batch: int, steps: int) -> dict[str, Any]:
    """Training FLOP/s of deepfeat's step (its default precision) for ``model`` at ``batch``."""
    from torch.utils.flop_counter import FlopCounterMode

    from deepfeat.learners.base import StepContext

    learner_spec, encoder = SPECS[model]
    learner = build_learner(learner_spec, data.info, encoder)
    precision = resolve_precision("auto", torch.device("cpu"), learner)
    learner = precision.prepare_model(learner).train()
    opt = learner.configure_optimizers({"name": "adam", "lr": LR})
    ctx = StepContext(autocast=precision.autocast)
    x, y = precision.prepare_input(data.train.x[:batch]), data.train.y[:batch]
    with FlopCounterMode(display=False) as counter:
        learner.update((x, y), opt, ctx)
    flops = counter.get_total_flops()
    for _ in range(2):
        learner.update((x, y), opt, ctx)
    t0 = time.perf_counter()
    for _ in range(steps):
        learner.update((x, y), opt, ctx)
    step_s = (time.perf_counter() - t0) / steps
    return {"model": model, "batch": batch, "precision": precision.name, "gflop_per_step": flops / 1e9,
            "step_s": step_s, "achieved_gflops": flops / step_s / 1e9}


def hardware(data: DataBundle, quick: bool) -> dict[str, Any]:
    peaks = {"fp32": gemm_peak(torch.float32), "bf16": gemm_peak(torch.bfloat16)}
    rows = [achieved("cnn", data, 128, 5 if quick else 20), achieved("mlp", data, 4096, 3 if quick else 10)]
    for row in rows:
        row["peak_gflops"] = peaks[row["precision"]] / 1e9
        row["fraction_of_peak"] = row["achieved_gflops"] / row["peak_gflops"]
    return {"gemm_peak_gflops": {k: v / 1e9 for k, v in peaks.items()}, "training": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k training images, 1 epoch, 1 repeat")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="training images (a smoke run)")
    args = parser.parse_args()
    epochs = args.epochs or (1 if args.quick else 2)
    repeats = args.repeats or (1 if args.quick else 2)
    data = load_dataset({"name": "mnist", "limit": args.limit or (10000 if args.quick else None)}, val_fraction=0.0)
    data = DataBundle(data.info, data.train, None, data.test)

    hw = hardware(data, args.quick)
    print(table([{"dtype": k, "gemm_gflops": v} for k, v in hw["gemm_peak_gflops"].items()], ["dtype", "gemm_gflops"]))
    print(table(hw["training"], ["model", "batch", "precision", "gflop_per_step", "step_s", "achieved_gflops",
                                 "peak_gflops", "fraction_of_peak"]))
    rows = side_by_side(data, epochs, repeats)
    columns = ["setting", "model", "trainer", "first_epoch_s", "steady_s", "vs_hand", "test_acc"]
    md = table(rows, columns)
    print(md)
    name = "peers_smoke" if args.limit else "peers_quick" if args.quick else "peers"
    result = {"quick": args.quick, "epochs": epochs, "repeats": repeats, "train_samples": len(data.train),
              "batch_size": BATCH, "rows": rows, "hardware": hw}
    path = write_result(name, result)
    m = machine()
    (RESULTS / f"{name}.md").write_text(
        f"Measured {m['date']} on {m['cpu']} ({m['threads']} torch threads, torch {m['torch']}); {len(data.train)} "
        f"training images, {epochs} epoch(s), median of {repeats} repeat(s), alternating order.\n\n{md}\n\n"
        + table(hw["training"], ["model", "batch", "precision", "achieved_gflops", "peak_gflops", "fraction_of_peak"]) + "\n")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
