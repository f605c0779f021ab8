"""Embedding beyond memory (issue 19): `deepfeat embed` on a float32 .npy larger than the RAM it may use.

Trains a tiny MLP run on 8x8 digits (64 inputs), writes a float32 .npy of random 64-value samples to
/tmp, then runs `deepfeat embed RUN --data FILE --out FEATURES.npy` in a fresh child process, which reports
its own peak resident memory (resource.getrusage ru_maxrss) and wall time; a first child on a 1,000-sample
file gives the baseline (Python + torch + deepfeat imported: ~1 GB with the CUDA build of torch, whose
import alone peaks at ~650 MB). The input is read through a memory map in chunks, so what the file adds
to the peak should stay near one chunk, far below the file size. Goal: <= 1 GB peak RSS for a 1.5 GB input.

    python benchmarks/bench_embed.py            # 1.5 GB input (~6.1M samples), ~1-3 min quiet on 2 cores
    python benchmarks/bench_embed.py --quick    # 150 MB input, ~20 s

Writes benchmarks/results/embed[_quick].json. The files in /tmp are removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import REPO, table, write_result

import deepfeat

DIM = 64  # digits: 1 x 8 x 8


def write_input(path: Path, n: int, chunk: int = 1 << 20) -> None:
    """A float32 (n, 1, 8, 8) .npy written in chunks (the writer itself never holds the whole file)."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, 1, 8, 8))
    rng = np.random.default_rng(0)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        out[start:stop] = rng.random((stop - start, 1, 8, 8), dtype=np.float32) * 16
    out.flush()
    del out


CHILD = ("import resource, sys, time; from deepfeat.cli import main; t = time.perf_counter(); code = main(sys.argv[1:]); "
         "print('RESULT', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - t); sys.exit(code)")


def embed_child(run: Path, data: Path, out: Path) -> tuple[float, float]:
    """Peak RSS (MiB, the child's own ru_maxrss) and wall seconds of `deepfeat embed` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", CHILD, "embed", str(run), "--data", str(data), "--out", str(out)],
                          check=True, env=env, capture_output=True, text=True)
    _, rss, secs = next(line for line in done.stdout.splitlines() if line.startswith("RESULT")).split()
    return float(rss), float(secs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 150 MB input instead of 1.5 GB")
    parser.add_argument("--gb", type=float, default=None, help="input size in GB (overrides --quick)")
    args = parser.parse_args()
    gb = args.gb or (0.15 if args.quick else 1.5)
    n = int(gb * 1e9 / (DIM * 4))
    work = Path(tempfile.mkdtemp(prefix="deepfeat-embed-", dir="/tmp"))
    try:
        run = work / "run"
        deepfeat.fit({"data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [64]},
                      "learner": {"name": "classifier"}, "training": {"epochs": 1, "progress": "none"},
                      "evaluation": {"protocol": [], "embedding_plots": []},
                      "logging": {"plots": False, "report": False}}, out=run)
        data, feats = work / "x.npy", work / "z.npy"
        write_input(data, n)
        small = work / "small.npy"
        write_input(small, 1000)
        base_mb, _ = embed_child(run, small, work / "z_small.npy")  # the interpreter, torch and deepfeat alone
        peak_mb, wall = embed_child(run, data, feats)
        z = np.load(feats, mmap_mode="r")
        size = data.stat().st_size
        row = {"input_gb": size / 1e9, "samples": n, "features": list(z.shape), "peak_rss_mb": peak_mb,
               "baseline_rss_mb": base_mb, "added_rss_mb": peak_mb - base_mb, "added_over_input": (peak_mb - base_mb) * 2**20 / size,
               "wall_s": wall, "samples_per_s": n / wall, "goal_peak_rss_mb": 1000,
               "load_avg": [round(v, 2) for v in os.getloadavg()]}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table([row], ["input_gb", "samples", "peak_rss_mb", "baseline_rss_mb", "added_rss_mb", "added_over_input", "wall_s",
                        "samples_per_s", "goal_peak_rss_mb"]))
    name = "embed_custom" if args.gb else "embed_quick" if args.quick else "embed"
    print(f"written: {write_result(name, {'quick': args.quick, 'result': row})}")


if __name__ == "__main__":
    main()
