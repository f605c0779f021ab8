"""bench_core --fast: examples/configs/mnist_fast.yaml to 99% MNIST test accuracy, and what each choice buys.

Every run: training wall time (validation/test watching excluded) until the watched accuracy reaches 99.0%.
The recipe check reads the validation split (the split the recipe was chosen on); time-to-99 and the
ablation train on all 60,000 training images and only watch the test split.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from _common import REPO, table
from deepfeat.config import load_config
from deepfeat.data.splits import DataBundle
from deepfeat.engine.seeding import seed_everything
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.learners.build import build_learner
from deepfeat.run.runs import load_data

CONFIG = REPO / "examples" / "configs" / "mnist_fast.yaml"
TARGET = 0.99


def run(recipe: dict[str, Any], data: DataBundle, key: str, *, fused: bool = True) -> dict[str, Any]:
    """Train ``recipe`` (a config dict) on ``data`` until ``key`` >= 99% or its epochs end."""
    from bench_core import TrainClock

    seed_everything(recipe["seed"])
    learner = build_learner(recipe["learner"], data.info, recipe["encoder"])
    t = recipe["training"]
    clock = TrainClock(key, TARGET)
    cfg = TrainingConfig(epochs=t["epochs"], batch_size=t["batch_size"], precision=t.get("precision", "auto"),
                         channels_last=t.get("channels_last", "auto"), progress="none", restore_best=False)
    optimizer: Any = recipe["optimizer"]
    if not fused:  # torch's default implementation, as a user gets it from torch.optim.AdamW(...)
        spec = {k: v for k, v in optimizer.items() if k != "name"}
        optimizer = torch.optim.AdamW(learner.parameters(), **spec)
    trainer = Trainer(cfg, seed=recipe["seed"], callbacks=[clock])
    result = trainer.fit(learner, data, optimizer=optimizer, schedule=recipe["schedule"])
    reached = clock.reached
    return {"epochs_run": result.epochs, "reached_at_epoch": reached, "precision": trainer.precision.name,
            "train_s_to_99": sum(clock.train_s[:reached]) if reached else None, "train_s_total": sum(clock.train_s),
            "watched_acc": [round(h.get(key, float("nan")), 4) for h in result.history]}


def ablation_steps(fast: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
    """From the core CNN recipe (mnist_cnn.yaml's network and optimizer, float32 in the default memory format,
    torch's default AdamW, 6 epochs), add mnist_fast's choices one at a time; each row keeps the changes above it."""
    base = copy.deepcopy(fast)
    base["encoder"] = {"name": "cnn", "channels": [32, 64, 128], "kernel_size": 3, "pool": "max", "norm": "batch"}
    base["learner"] = {"name": "classifier"}
    base["optimizer"] = {"name": "adamw", "lr": 2.0e-3, "weight_decay": 0.05}
    base["schedule"] = {"name": "one_cycle"}
    base["training"] = {**fast["training"], "batch_size": 128, "epochs": 6, "precision": "fp32", "channels_last": False}
    steps: list[tuple[str, dict[str, Any], bool]] = [("core CNN recipe (fp32, torch default AdamW)", copy.deepcopy(base), False)]

    def add(label: str, fused: bool = True, **changes: Any) -> None:
        recipe = copy.deepcopy(steps[-1][1])
        for section, value in changes.items():
            recipe[section] = value if not isinstance(value, dict) else {**recipe[section], **value}
        steps.append((label, recipe, fused))

    enc = fast["encoder"]
    add("+ fused AdamW", fused=True)
    add("+ channels_last (float32)", training={"channels_last": True})
    add("+ narrow network (16-32-64)", encoder={"channels": enc["channels"]})
    add("+ batch 256", training={"batch_size": fast["training"]["batch_size"]})
    add("+ one-cycle peak lr 4e-3, 25% warm-up", optimizer={"lr": 4.0e-3}, schedule=fast["schedule"])
    add("+ label smoothing 0.1", learner=fast["learner"])
    add("+ pool before norm (conv-pool-norm-act)", encoder={"order": enc["order"]})
    add("+ flatten into a hidden layer of 256", encoder={"global_pool": enc["global_pool"], "hidden": enc["hidden"]})
    add(f"+ peak lr {fast['optimizer']['lr']:g}", optimizer=fast["optimizer"])
    add(f"+ {fast['training']['epochs']} planned epoch(s), precision auto (= mnist_fast)",
        training={"epochs": fast["training"]["epochs"], "precision": "auto", "channels_last": "auto"})
    assert steps[-1][1] == {**fast, "training": {**fast["training"], "precision": "auto", "channels_last": "auto"}}
    return steps


def fast_benchmark(ablation: bool = True, limit: int | None = None, seeds: int = 3) -> dict[str, Any]:
    """``limit``: that many training images (a smoke run of this script, not a measurement); ``seeds``: time-to-99
    is measured for seeds 0..seeds-1 (the ablation uses seed 0)."""
    smoke = [f"data.limit={limit}"] if limit else []
    fast = load_config(str(CONFIG), smoke).to_dict()
    out: dict[str, Any] = {"config": str(CONFIG.relative_to(REPO)), "target": TARGET, "limit": limit}
    with_val = load_data(load_config(str(CONFIG), smoke))
    out["validation"] = run(fast, DataBundle(with_val.info, with_val.train, with_val.val, None), "val/acc")
    print(table([out["validation"]], list(out["validation"])))
    full = load_data(load_config(str(CONFIG), ["data.val_fraction=0", *smoke]))
    watched = DataBundle(full.info, full.train, full.test, None)  # the test split as the watched one: it picks nothing
    out["time_to_99_by_seed"] = [{"seed": seed, **run({**fast, "seed": seed}, watched, "val/acc")} for seed in range(seeds)]
    out["time_to_99"] = out["time_to_99_by_seed"][0]
    print(table(out["time_to_99_by_seed"], list(out["time_to_99_by_seed"][0])))
    if ablation:
        rows = []
        for label, recipe, fused in ablation_steps(fast):
            rows.append({"change": label, **run(recipe, watched, "val/acc", fused=fused)})
            print(rows[-1], flush=True)
        out["ablation"] = rows
        print(table(rows, ["change", "precision", "reached_at_epoch", "train_s_to_99", "train_s_total", "watched_acc"]))
    return out
