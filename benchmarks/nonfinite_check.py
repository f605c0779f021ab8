"""Non-finite losses on a GPU: dropped on the device, counted right, and no host sync per training step.

Fits a digits MLP for one epoch twice (few and many steps) with every 4th loss made NaN, under CUDA's
sync debug mode, and prints the synchronizing calls of each fit: they must not grow with the steps. Then the
same with float16 autocast (its loss scaler decides on the host, one read per step, as GradScaler does).
    python benchmarks/nonfinite_check.py            # needs CUDA; prints one line per fit and exits 1 on a failure
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import torch

from deepfeat.data.bundle import from_arrays
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.learners.build import build_learner


def fit(n: int, precision: str) -> tuple[int, int, int, bool]:
    """(steps, skipped steps, synchronizing calls, weights finite) of a one-epoch fit on ``n`` samples."""
    g = np.random.default_rng(0)
    x = g.normal(size=(n, 64)).astype(np.float32)
    data = from_arrays(x, (x[:, 0] > 0).astype(np.int64), kind="vector", val_fraction=0.0, test_fraction=0.0)
    learner = build_learner("classifier", data.info, {"name": "mlp", "hidden": [256, 256]})
    original, calls = learner.training_step, {"n": 0}

    def every_4th_nan(batch):  # type: ignore[no-untyped-def]
        out = original(batch)
        calls["n"] += 1
        if calls["n"] % 4 == 0:
            out["loss"] = out["loss"] * float("nan")
        return out

    learner.training_step = every_4th_nan  # type: ignore[method-assign]
    cfg = TrainingConfig(epochs=1, batch_size=64, device="cuda", precision=precision, progress="none")  # type: ignore[arg-type]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            result = Trainer(cfg).fit(learner, data, optimizer="adam")
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = sum("synchroniz" in str(w.message) for w in caught)
    finite = all(bool(torch.isfinite(p).all()) for p in learner.parameters())
    return result.steps, result.skipped_steps, syncs, finite


def main() -> int:
    if not torch.cuda.is_available():
        print("nonfinite_check: no CUDA device: nothing to check")
        return 0
    failed = False
    for precision in ("bf16", "fp16"):
        rows = [fit(n, precision) for n in (640, 6400)]  # 10 and 100 steps
        for steps, skipped, syncs, finite in rows:
            ok = skipped == steps // 4 and finite
            failed |= not ok
            print(f"nonfinite_check {precision}: {steps} steps, {skipped} skipped, {syncs} synchronizing calls, "
                  f"weights finite {finite}{'' if ok else '  FAILED'}")
        if precision == "bf16" and rows[1][2] > rows[0][2]:  # fused Adam decides on the device: no read per step
            print("nonfinite_check bf16: FAILED, synchronizing calls grow with the steps")
            failed = True
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
