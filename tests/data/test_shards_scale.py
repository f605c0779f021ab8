"""Shards at scale on CPU: an image set 4x larger than the memory each process may add, trained under 2 gloo
processes (torchrun), killed with kill -9 mid-epoch and resumed to the weights of an uninterrupted run.

The cap is ``RLIMIT_DATA``, set at the first epoch 64 MB above what each process then holds (torch, the model, the
process group): reading the data into memory would pass it (a MemoryError); streaming it shard by shard does not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepfeat.run.pack import pack

CAP_MB = 64
# Allocators that hand freed memory back (glibc with a fixed mmap threshold, Arrow on it): the cap then measures
# what a process holds, not what mimalloc or glibc keep cached for later (about 60 MB after a pass over the data).
ALLOCATORS = {"OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "65536",
              "ARROW_DEFAULT_MEMORY_POOL": "system"}
WORKER = """
import os, re, resource, signal, sys, yaml
import torch
torch.set_num_threads(1)
import deepfeat
from deepfeat.engine.callbacks import Callback

action, config, out, cap_mb = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

class Cap(Callback):  # training (its DataLoader workers included) may add at most cap_mb to what the process holds
    def on_epoch_start(self, trainer, epoch):
        if resource.getrlimit(resource.RLIMIT_DATA)[0] == resource.RLIM_INFINITY:
            held = int(re.search(r"VmData:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
            resource.setrlimit(resource.RLIMIT_DATA, (held + cap_mb * 2**20, resource.RLIM_INFINITY))

    def on_step_end(self, trainer, metrics):
        if action == "kill" and trainer.dist.rank == 0 and trainer.epoch == 1 and trainer.epoch_step == 5:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_fit_end(self, trainer):
        resource.setrlimit(resource.RLIMIT_DATA, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        open(f"{out}-peak-rss-{action}-{trainer.dist.rank}.txt", "w").write(f"{peak[0]} {peak[1]}")

cfg = yaml.safe_load(open(config))
if action == "resume":
    deepfeat.resume(out, callbacks=[Cap()])
else:
    deepfeat.fit(cfg, out=out, callbacks=[Cap()])
"""


@pytest.mark.slow
def test_shards_4x_the_memory_cap_train_on_2_processes_killed_mid_epoch_and_resume_exactly(
        tmp_path: Path, kill_9_and_resume_under_torchrun) -> None:
    rng = np.random.default_rng(0)
    n = 4 * CAP_MB * 2**20 // (3 * 32 * 32 * 4) + 64  # float32 images: 4x the cap and a bit
    images = rng.random((n, 3, 32, 32), dtype=np.float32)
    np.savez(tmp_path / "images.npz", x=images, y=rng.integers(0, 4, n))
    del images
    manifest = pack(str(tmp_path / "images.npz"), tmp_path / "shards", shard_rows=1024)
    assert sum((tmp_path / "shards" / s["file"]).stat().st_size for s in manifest["shards"]) > 4 * CAP_MB * 2**20
    cfg = {"data": {"name": "shards", "root": str(tmp_path / "shards"), "val_fraction": 0.0, "test_fraction": 0.0,
                    "stats_samples": 256},
           "encoder": {"name": "mlp", "hidden": [16]}, "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9},
           "training": {"epochs": 2, "batch_size": 256, "progress": "none", "restore_best": False, "checkpoint_steps": 4},
           "evaluation": {"protocol": [], "embedding_plots": []}, "logging": {"plots": False, "report": False}}
    kill_9_and_resume_under_torchrun(WORKER, cfg, str(CAP_MB), env=ALLOCATORS, timeout=600)
