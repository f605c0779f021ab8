"""Cost of diagnostics at the default frequency: the same training run with and without them.

Each repeat trains the same learner (same seed, same data) twice, once plain and once with the
pre-flight check and the Diagnostics callback at ``every_n_steps=50`` plus the verdicts at the end;
the order alternates between repeats so drift on a shared machine hits both sides equally. The
headline ratio is min(with) / min(without) over the repeats (the least disturbed run of each side,
robust when other jobs compete for the cores); the median of the per-repeat ratios of wall and of
process CPU time are reported next to it. One torch thread, so no thread spins on a busy core.
Target: <= 1.10.

    python benchmarks/bench_diagnostics.py [--repeats 5] [--epochs 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch
from _common import table, write_result

from deepfeat.api import load_data
from deepfeat.config import load_config
from deepfeat.engine.diagnostics import Diagnostics, DiagnosticsConfig
from deepfeat.engine.preflight import Preflight
from deepfeat.engine.seeding import seed_everything
from deepfeat.engine.trainer import Trainer
from deepfeat.eval.diagnose import diagnose
from deepfeat.learners.build import build_learner

WORKLOADS = {
    "digits_mlp (256-128, bn, dropout)": {"encoder": {"name": "mlp", "hidden": [256, 128], "norm": "batch", "dropout": 0.1}},
    "digits deep mlp (10 x 64)": {"encoder": {"name": "mlp", "hidden": [64] * 10}},
    "digits cnn (32-64)": {"encoder": {"name": "cnn", "channels": [32, 64]}},
}


def one_run(cfg: Any, data: Any, with_diagnostics: bool) -> tuple[float, float]:
    """Wall and CPU seconds of one training run (the trainer only: evaluation and plots are the same either way)."""
    seed_everything(cfg.seed)
    learner = build_learner(cfg.learner, data.info, cfg.encoder, cfg.regularization)
    diag_cfg = DiagnosticsConfig(enabled=True)
    callbacks = [Preflight(diag_cfg, cfg.optimizer), Diagnostics(diag_cfg)] if with_diagnostics else []
    trainer = Trainer(cfg.training, seed=cfg.seed, callbacks=callbacks)
    t0, c0 = time.perf_counter(), time.process_time()
    trainer.fit(learner, data, optimizer=cfg.optimizer, schedule=cfg.schedule)
    if with_diagnostics:
        diagnose(callbacks[1].stats, diag_cfg, callbacks[0].result.findings)
    return time.perf_counter() - t0, time.process_time() - c0


def bench(name: str, spec: dict[str, Any], repeats: int, epochs: int) -> dict[str, Any]:
    cfg = load_config({"data": {"name": "digits"}, **spec, "optimizer": {"name": "adam", "lr": 1e-3},
                       "training": {"epochs": epochs, "batch_size": 64, "progress": "none", "device": "cpu"}})
    data = load_data(cfg)
    one_run(cfg, data, False)  # warm-up: first-call allocations and lazy imports
    plain, diag = [], []
    for r in range(repeats):
        for with_diag in ((False, True) if r % 2 == 0 else (True, False)):
            (diag if with_diag else plain).append(one_run(cfg, data, with_diag))
    wall = [d[0] / p[0] for d, p in zip(diag, plain)]
    cpu = [d[1] / p[1] for d, p in zip(diag, plain)]
    return {"workload": name, "epochs": epochs, "steps": epochs * data.train.num_batches(64), "repeats": repeats,
            "plain_s": min(p[0] for p in plain), "diagnostics_s": min(d[0] for d in diag),
            "ratio": min(d[0] for d in diag) / min(p[0] for p in plain), "median_ratio": statistics.median(wall),
            "cpu_ratio": statistics.median(cpu), "ratios": wall, "cpu_ratios": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [bench(name, spec, args.repeats, args.epochs) for name, spec in WORKLOADS.items()]
    print(table(rows, ["workload", "epochs", "steps", "plain_s", "diagnostics_s", "ratio", "median_ratio", "cpu_ratio"]))
    path = write_result("diagnostics", {"target_ratio": 1.10, "every_n_steps": DiagnosticsConfig().every_n_steps,
                                        "rows": rows})
    print(f"written: {path}")


if __name__ == "__main__":
    main()
