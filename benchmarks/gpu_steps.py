"""Training-step time on the device at fp32 / bf16 / fp16, and whether the shard pipeline keeps up with it.

Three encoders, each under a linear classifier head, trained on synthetic batches with AdamW: the digits CNN
(1x8x8), a ResNet-18 (torchvision's, untrained, 3x224x224) and the InceptionTime encoder (1x512 series). Each
precision runs ``--steps`` timed steps after warm-up (autocast; fp16 with a loss scaler); the median step time and
samples/s are reported, with the GPU's utilization over the ResNet-18 steps where NVML answers. Then shards of
synthetic 3x224x224 images are read for one pass by deepfeat's streamed pipeline (default workers), and its
images/s set against ResNet-18's bf16 (else fp32) samples/s: at >= 1.0 the data pipeline keeps the device busy.

    python benchmarks/gpu_steps.py            # on a CUDA machine, ~2 minutes
    python benchmarks/gpu_steps.py --dry      # on the CPU, tiny sizes: checks the script end to end (~20 s)

Writes benchmarks/results/gpu_steps[_dry].json and prints the tables.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _common import table, write_result

import deepfeat.nn.backbones  # noqa: F401 - registers the backbone encoder (torchvision and timm models)
from deepfeat.data import load_dataset
from deepfeat.data.info import DataInfo
from deepfeat.data.shard_files import write_shards
from deepfeat.nn.encoder import build_encoder

FULL = {"digits_cnn": ({"name": "cnn", "channels": [64, 128], "kernel_size": 3, "pool": "max", "norm": "batch"},
                       (1, 8, 8), 256),
        "resnet18": ({"name": "backbone", "source": "torchvision:resnet18", "pretrained": False}, (3, 224, 224), 128),
        "inception_time": ({"name": "inception"}, (1, 512), 64)}
DRY = {"digits_cnn": (FULL["digits_cnn"][0], (1, 8, 8), 8),
       "resnet18": ({**FULL["resnet18"][0], "image_size": 32}, (3, 32, 32), 2),
       "inception_time": ({"name": "inception", "depth": 3, "filters": 8}, (1, 64), 4)}
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def utilization() -> float | None:
    """The GPU's utilization in % over NVML's last sample period, or None without CUDA or NVML."""
    try:
        return float(torch.cuda.utilization())
    except Exception:  # noqa: BLE001 - no pynvml, no driver, no CUDA: not measured
        return None


def step_times(spec: dict, shape: tuple, batch: int, dtype: torch.dtype | None, device: torch.device,
               steps: int, warmup: int) -> tuple[float, list[float]]:
    """Median seconds per training step and the utilization samples taken during the steps."""
    encoder = build_encoder(spec, shape)
    model = torch.nn.Sequential(encoder, torch.nn.Linear(encoder.feature_dim, 10)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)
    x, y = torch.randn(batch, *shape, device=device), torch.randint(0, 10, (batch,), device=device)
    times, util = [], []
    for i in range(warmup + steps):  # the first steps warm up (cuDNN autotuning, allocator)
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            u = utilization()
            util += [u] if u is not None else []
    return statistics.median(times), util


def pipeline_rate(shape: tuple, n: int, batch: int) -> tuple[float, int]:
    """Images/s of one pass over shards of ``n`` synthetic images through the streamed split, and its workers."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        info = DataInfo("image", shape, 10, [str(c) for c in range(10)])
        parts = ((ids, rng.random((len(ids), *shape), dtype=np.float32), torch.zeros(len(ids), dtype=torch.int64))
                 for ids in ([str(j) for j in range(i, min(i + 256, n))] for i in range(0, n, 256)))
        write_shards(parts, info, {"name": "synthetic"}, Path(tmp), shard_rows=1024)
        split = load_dataset({"name": "shards", "root": tmp, "verify": False}, val_fraction=0.0,
                             test_fraction=0.0).train
        t0 = time.perf_counter()
        for x, _ in split.batches(batch, shuffle=True, generator=torch.Generator().manual_seed(0)):
            x.sum()
        return len(split) / (time.perf_counter() - t0), split.num_workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry", action="store_true", help="CPU, tiny sizes: the script end to end, not a measure")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per model and precision (20; dry: 1)")
    args = parser.parse_args()
    device = torch.device("cpu" if args.dry or not torch.cuda.is_available() else "cuda")
    models, steps, warmup = (DRY, args.steps or 1, 1) if args.dry else (FULL, args.steps or 20, 3)
    supported = {"fp32", "fp16"} | ({"bf16"} if device.type == "cpu" or torch.cuda.is_bf16_supported() else set())
    rows, util_all = [], []
    for name, (spec, shape, batch) in models.items():
        for precision, dtype in DTYPES.items():
            if precision not in supported:
                continue
            seconds, util = step_times(spec, shape, batch, dtype, device, steps, warmup)
            util_all += util if name == "resnet18" else []
            rows.append({"model": name, "precision": precision, "batch": batch, "step_ms": seconds * 1e3,
                         "samples_per_s": batch / seconds})
            print(rows[-1], flush=True)
    resnet = {r["precision"]: r["samples_per_s"] for r in rows if r["model"] == "resnet18"}
    device_rate = resnet.get("bf16", resnet["fp32"])
    shape, batch = models["resnet18"][1], models["resnet18"][2]
    images, workers = pipeline_rate(shape, 64 if args.dry else 8192, batch)
    pipe = {"shard_images_per_s": images, "workers": workers, "resnet18_samples_per_s": device_rate,
            "pipeline_over_device": images / device_rate,
            "gpu_utilization_pct": statistics.mean(util_all) if util_all else None}
    print(table(rows, ["model", "precision", "batch", "step_ms", "samples_per_s"]))
    print(table([pipe], list(pipe)))
    name = "gpu_steps_dry" if args.dry else "gpu_steps"
    print(f"written: {write_result(name, {'device': str(device), 'steps': rows, 'pipeline': pipe})}")


if __name__ == "__main__":
    main()
