"""Two processes on CPU (gloo) through torchrun: identical parameters, rank 0 writes, matches one process."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import torch

import deepfeat

# No batch norm or dropout: per-process batch statistics and masks would (rightly) differ from one process.
CFG = {
    "data": {"name": "digits"},
    "encoder": {"name": "mlp", "hidden": [32]},
    "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    "training": {"epochs": 2, "progress": "none", "restore_best": False},
    "evaluation": {"embedding_plots": []},
    "logging": {"plots": False, "report": False},
}

SCRIPT = """
import sys, torch, torch.distributed as dist
import deepfeat
cfg, out, dump = eval(sys.argv[1]), sys.argv[2], sys.argv[3]
run = deepfeat.fit(cfg, out=out)
flat = torch.cat([p.detach().flatten() for p in run.learner.parameters()])
gathered = [None] * dist.get_world_size()
dist.all_gather_object(gathered, flat)
if dist.get_rank() == 0:
    torch.save(gathered, dump)
dist.destroy_process_group()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path: Path) -> None:
    (tmp_path / "ddp.py").write_text(SCRIPT)
    ddp_cfg = {**CFG, "training": {**CFG["training"], "batch_size": 32}}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(_free_port()), str(tmp_path / "ddp.py"), repr(ddp_cfg), str(tmp_path / "ddp"),
           str(tmp_path / "params.pt")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    rank0, rank1 = torch.load(tmp_path / "params.pt")
    assert torch.equal(rank0, rank1), "ranks ended with different parameters"

    single = deepfeat.fit({**CFG, "training": {**CFG["training"], "batch_size": 64}}, out=tmp_path / "single")
    flat = torch.cat([p.detach().flatten() for p in single.learner.parameters()])
    torch.testing.assert_close(rank0, flat, rtol=1e-4, atol=1e-5)

    run = tmp_path / "ddp"
    assert len((run / "metrics.csv").read_text().splitlines()) == 3  # written once: header + 2 epochs
    assert (run / "results.json").exists() and (run / "model" / "model.safetensors").exists()
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in (tmp_path / "single").iterdir())



NT_XENT = """
import sys, torch, torch.distributed as dist
from deepfeat.learners.contrastive_losses import nt_xent
dist.init_process_group("gloo")
rank = dist.get_rank()
g = torch.Generator().manual_seed(0)
z1, z2 = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
mine = [t[rank * 4:(rank + 1) * 4].clone().requires_grad_() for t in (z1, z2)]
loss = nt_xent(*mine, temperature=0.5)
loss.backward()
out = [None, None]
dist.all_gather_object(out, (loss.detach(), mine[0].grad, mine[1].grad))
if rank == 0:
    torch.save(out, sys.argv[1])
dist.destroy_process_group()
"""


def test_nt_xent_gathers_negatives_across_processes(tmp_path: Path) -> None:
    """Two processes with 4 pairs each give the 8-pair loss, and gradients that DDP's mean turns into the 8-pair ones."""
    from deepfeat.learners.contrastive_losses import nt_xent

    (tmp_path / "w.py").write_text(NT_XENT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(_free_port()), str(tmp_path / "w.py"), str(tmp_path / "g.pt")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    (l0, a0, b0), (l1, a1, b1) = torch.load(tmp_path / "g.pt")
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 5, generator=g).requires_grad_(), torch.randn(8, 5, generator=g).requires_grad_()
    full = nt_xent(z1, z2, temperature=0.5)
    full.backward()
    torch.testing.assert_close(l0, full.detach())
    torch.testing.assert_close(l1, full.detach())
    # Each process's slice gets world_size x its share; DDP then averages over the 2 processes.
    torch.testing.assert_close(torch.cat([a0, a1]) / 2, z1.grad)
    torch.testing.assert_close(torch.cat([b0, b1]) / 2, z2.grad)

