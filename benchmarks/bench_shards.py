"""Shards: peak memory flat as the data grows, and images per second against torchvision's pipeline.

1. Memory: synthetic 3x32x32 float32 images written as shards at 1x, 4x and 16x a base size; a fresh child
   process trains one epoch from them (MLP, default data workers) and embeds them, and reports its peak
   resident memory (ru_maxrss) and that of its DataLoader workers. Goal: flat, whatever the data size.
2. Speed: one folder of PNG images (64x64, resized to 32x32 and normalized), read for two epochs in batches
   of 256 by deepfeat's ``image_folder``, by the same images packed into shards, and by torchvision's
   ``ImageFolder`` + ``DataLoader`` with the same workers and transforms. Goal: >= 1.0x torchvision for the
   folder, >= 2x for shards.

    python benchmarks/bench_shards.py --quick   # base 2,000 images (24 MB; 16x: 384 MB), 1,000 PNGs: ~2 min
    python benchmarks/bench_shards.py           # base 8,000 images (96 MB; 16x: 1.5 GB), 4,000 PNGs

Writes benchmarks/results/shards[_quick].json; the data lives in a temporary folder removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _common import REPO, table, write_result

from deepfeat.data.info import DataInfo
from deepfeat.data.shard_files import write_shards
from deepfeat.data.splits import default_workers

CHILD = """
import json, resource, sys, torch
torch.set_num_threads(1)
import deepfeat
root, out = sys.argv[1], sys.argv[2]
cfg = {"data": {"name": "shards", "root": root, "val_fraction": 0.0, "test_fraction": 0.0},
       "encoder": {"name": "mlp", "hidden": [16]}, "training": {"epochs": 1, "batch_size": 256, "progress": "none"},
       "evaluation": {"protocol": [], "embedding_plots": []}, "logging": {"plots": False, "report": False}}
run = deepfeat.fit(cfg, out=out + "/run")
deepfeat.embed(run.dir, root, out + "/features.npy")
usage = [resource.getrusage(w).ru_maxrss // 1024 for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
print(json.dumps({"peak_rss_mb": usage[0], "workers_peak_rss_mb": usage[1]}))
"""


def synthetic(n: int, batch: int = 1024):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    for start in range(0, n, batch):
        k = min(batch, n - start)
        yield [str(i) for i in range(start, start + k)], rng.random((k, 3, 32, 32), dtype=np.float32), \
            torch.from_numpy(rng.integers(0, 10, k))


def memory(base: int, tmp: Path) -> list[dict]:
    rows = []
    info = DataInfo("image", (3, 32, 32), 10, [str(c) for c in range(10)])
    for scale in (1, 4, 16):
        root = tmp / f"shards-{scale}x"
        write_shards(synthetic(base * scale), info, {"name": "synthetic"}, root)
        size = sum(f.stat().st_size for f in root.glob("*.arrow")) / 2**20
        t0 = time.perf_counter()
        child = subprocess.run([sys.executable, "-c", CHILD, str(root), str(tmp / f"out-{scale}x")],
                               capture_output=True, text=True, check=True)
        peak = json.loads(child.stdout.strip().splitlines()[-1])
        rows.append({"data": f"{scale}x", "samples": base * scale, "shards_mb": round(size), **peak,
                     "fit_and_embed_s": time.perf_counter() - t0})
        print(rows[-1], flush=True)
    return rows


def images(n: int, root: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / f"c{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i:05d}.png")


def rate(batches_of_epoch, n: int, epochs: int = 2) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for x, _ in batches_of_epoch(epoch):
            x.sum()
    return n * epochs / (time.perf_counter() - t0)


def speed(n: int, tmp: Path, workers: int) -> list[dict]:
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    from deepfeat.data import load_dataset
    from deepfeat.run.pack import pack

    folder = tmp / "pngs"
    images(n, folder)
    spec = {"name": "image_folder", "root": str(folder), "size": 32, "num_workers": workers}
    ours = load_dataset(spec, val_fraction=0.0, test_fraction=0.0).train
    pack({**spec}, tmp / "png-shards")
    shards = load_dataset({"name": "shards", "root": str(tmp / "png-shards"), "num_workers": workers},
                          val_fraction=0.0, test_fraction=0.0).train
    mean, std = [0.5] * 3, [0.25] * 3
    tv = datasets.ImageFolder(str(folder), transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor(),
                                                                transforms.Normalize(mean, std)]))
    loader = DataLoader(tv, batch_size=256, shuffle=True, num_workers=workers)
    gen = lambda e: torch.Generator().manual_seed(e)  # noqa: E731
    measured = {
        "torchvision ImageFolder + DataLoader": rate(lambda e: loader, len(tv)),
        "deepfeat image_folder": rate(lambda e: ours.batches(256, shuffle=True, generator=gen(e)), len(ours)),
        "deepfeat shards": rate(lambda e: shards.batches(256, shuffle=True, generator=gen(e)), len(shards)),
    }
    base = measured["torchvision ImageFolder + DataLoader"]
    return [{"pipeline": k, "images_per_s": v, "vs_torchvision": v / base} for k, v in measured.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data (about 2 minutes on 2 cores)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("PYTHONPATH", str(REPO / "src"))
    base, pngs = (2000, 1000) if args.quick else (8000, 4000)
    workers = default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        mem = memory(base, Path(tmp))
        fast = speed(pngs, Path(tmp), workers)
    print(table(mem, ["data", "samples", "shards_mb", "peak_rss_mb", "workers_peak_rss_mb", "fit_and_embed_s"]))
    print(f"\n{pngs} PNG images, 2 epochs, batch 256, {workers} data-loading workers each")
    print(table(fast, ["pipeline", "images_per_s", "vs_torchvision"]))
    path = write_result("shards_quick" if args.quick else "shards", {"memory": mem, "speed": fast, "workers": workers})
    print(f"written: {path}")


if __name__ == "__main__":
    main()
