"""benchmarks/gpu_check.sh in its dry mode: every step on the CPU at tiny sizes, end to end, where no GPU is at hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_gpu_check_runs_end_to_end_on_the_cpu_in_its_dry_mode(tmp_path: Path) -> None:
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--dry"], capture_output=True, text=True,
                       env=env, timeout=900)
    summary = (tmp_path / "gpu_check_dry.txt").read_text()
    assert r.returncode == 0, summary[-3000:]
    assert summary.startswith("gpu_check: dry run on the CPU") and "done (status 0)" in r.stdout
    assert summary.count("rc=0") == 4 and "torchrun fit completed" in summary and "fp16 fit completed fp16" in summary
    assert "nonfinite_check: no CUDA device: nothing to check" in summary  # the CUDA-only step says so
    steps = json.loads((tmp_path / "gpu_steps_dry.json").read_text())
    assert {(s["model"], s["precision"]) for s in steps["steps"]} == {
        (m, p) for m in ("digits_cnn", "resnet18", "inception_time") for p in ("fp32", "bf16", "fp16")}
    assert steps["device"] == "cpu" and steps["pipeline"]["shard_images_per_s"] > 0
