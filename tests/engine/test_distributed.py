"""Two processes on CPU (gloo): identical parameters, only rank 0 writes, one-process results, exact resumes.

One test starts its ranks through torchrun itself; the others fork them from the test process with the
environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``PORT``), which is all deepfeat reads,
and spares each launch the import of torch and deepfeat. Every launch has a hard timeout, so a collective
that one rank never joins fails the test instead of hanging it.
"""

from __future__ import annotations

import pytest

import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist

import deepfeat
from deepfeat.engine.callbacks import Callback

# No batch norm, dropout or noise: per-process batch statistics and random draws would (rightly) differ
# from one process.
CFG = {
    "data": {"name": "digits"},
    "encoder": {"name": "mlp", "hidden": [32]},
    "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    "training": {"epochs": 2, "progress": "none", "restore_best": False},
    "evaluation": {"embedding_plots": []},
    "logging": {"plots": False, "report": False},
}
AUTOENCODER = {**CFG, "learner": {"name": "autoencoder"}, "training": {**CFG["training"], "epochs": 1},
               "evaluation": {"embedding_plots": [], "protocol": []}}

# WGAN-GP with two critic steps per generator step and a cosine schedule per player: the penalty's double
# backward, the generator's idle turns and both schedules all have to agree across ranks and resumes.
GAN = {
    "data": {"name": "digits"},
    "encoder": {"name": "mlp", "hidden": [32]},
    "learner": {"name": "wgan_gp", "generator": "mlp", "generator_hidden": [32], "latent_dim": 8, "n_critic": 2,
                "ema_decay": 0.9},
    "optimizer": {"name": "adam", "lr": 1e-3},
    "schedule": {"name": "cosine"},
    "training": {"epochs": 2, "batch_size": 32, "restore_best": False, "progress": "none"},
    "evaluation": {"embedding_plots": [], "protocol": []},
    "logging": {"plots": False, "report": False},
}


class _Interrupt(Callback):
    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        raise KeyboardInterrupt  # after rank 0 checkpointed the first epoch, as Ctrl-C would


def run_jobs(jobs: list[tuple[str, dict, str]], dump: str) -> None:
    """On every rank: fit / interrupt / resume each ``(action, config, run folder)``; rank 0 saves
    ``[rank][job] -> (flat parameters, state dict, files the rank wrote under the folder)``.

    Writes are Python's audit events (open for writing, rename, mkdir): torch.save and safetensors write
    from C++, but deepfeat renames their temporary files into place.
    """
    where = {"root": "", "written": []}
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def audit(event: str, args: tuple) -> None:
        if event == "open" and isinstance(args[0], (str, os.PathLike)):
            if not ((args[1] and any(c in args[1] for c in "wax+")) or (args[2] or 0) & write_flags):
                return
        elif event not in ("os.rename", "os.mkdir"):
            return
        path = os.path.realpath(os.fspath(args[1] if event == "os.rename" else args[0]))
        if where["root"] and path.startswith(where["root"]):
            where["written"].append(os.path.relpath(path, where["root"]))

    sys.addaudithook(audit)
    results = []
    for action, cfg, out in jobs:
        where["root"], where["written"] = os.path.realpath(out), []
        learner = None
        if action == "fit":
            learner = deepfeat.fit(cfg, out=out).learner
        elif action == "resume":
            learner = deepfeat.resume(out).learner
        else:
            try:
                deepfeat.fit(cfg, out=out, callbacks=[_Interrupt()])
            except KeyboardInterrupt:
                pass
        flat = None if learner is None else torch.cat([p.detach().flatten() for p in learner.parameters()])
        results.append((flat, None if learner is None else learner.state_dict(), list(where["written"])))
    ranks: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(ranks, results)
    if dist.get_rank() == 0:
        torch.save(ranks, dump)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(jobs: list[tuple[str, dict, Path]], dump: Path, timeout: int = 240) -> list:
    """``run_jobs`` on 2 processes started by torchrun."""
    script = f"import runpy, sys; runpy.run_path({__file__!r})['run_jobs'](eval(sys.argv[1]), sys.argv[2])"
    (dump.parent / "worker.py").write_text(script)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(_free_port()), str(dump.parent / "worker.py"),
           repr([(a, c, str(o)) for a, c, o in jobs]), str(dump)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    return torch.load(dump, weights_only=False)


def _rank(rank: int, port: int, target: Callable[..., None], args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2")
    torch.set_num_threads(1)
    target(*args)
    dist.destroy_process_group()


def _forked(target: Callable[..., None], *args: Any, timeout: float = 150) -> None:
    """``target(*args)`` on 2 forked ranks with torchrun's environment; killed and failed after ``timeout`` s."""
    port, fork = _free_port(), multiprocessing.get_context("fork")
    procs = [fork.Process(target=_rank, args=(rank, port, target, args)) for rank in range(2)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(deadline - time.monotonic(), 0.0))
    hung = [p for p in procs if p.is_alive()]
    for p in hung:
        p.kill()
        p.join()
    assert not hung, f"ranks still running after {timeout} s: a collective that one rank never joined"
    assert [p.exitcode for p in procs] == [0, 0], "a rank failed (its traceback is in the captured stderr)"


def _flat(run: deepfeat.Run) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in run.learner.parameters()])


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path: Path) -> None:
    """Under torchrun, a classifier and an autoencoder: 2 processes x 32 samples per step train like 1 x 64."""
    per_process = [(CFG, tmp_path / "clf"), (AUTOENCODER, tmp_path / "ae")]
    rank0, rank1 = _torchrun([("fit", {**c, "training": {**c["training"], "batch_size": 32}}, o) for c, o in per_process],
                             tmp_path / "ranks.pt")
    for (cfg, out), mine, other in zip(per_process, rank0, rank1):
        assert torch.equal(mine[0], other[0]), f"{out.name}: ranks ended with different parameters"
        assert other[2] == [] and "metrics.csv" in mine[2], f"{out.name}: rank 1 wrote {other[2]}"
        single = deepfeat.fit({**cfg, "training": {**cfg["training"], "batch_size": 64}}, out=tmp_path / f"{out.name}-1")
        torch.testing.assert_close(mine[0], _flat(single), rtol=1e-4, atol=1e-5, msg=out.name)
        assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in single.dir.iterdir())

    run = tmp_path / "clf"
    assert len((run / "metrics.csv").read_text().splitlines()) == 3  # written once: header + 2 epochs
    assert (run / "results.json").exists() and (run / "model" / "model.safetensors").exists()


def _nt_xent_halves(dump: str) -> None:
    from deepfeat.learners.contrastive_losses import nt_xent

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
    mine = [t[rank * 4:(rank + 1) * 4].clone().requires_grad_() for t in (z1, z2)]
    loss = nt_xent(*mine, temperature=0.5)
    loss.backward()
    out: list[Any] = [None, None]
    dist.all_gather_object(out, (loss.detach(), mine[0].grad, mine[1].grad))
    if rank == 0:
        torch.save(out, dump)


def test_nt_xent_gathers_negatives_across_processes(tmp_path: Path) -> None:
    """Two processes with 4 pairs each give the 8-pair loss, and gradients that DDP's mean turns into the 8-pair ones."""
    from deepfeat.learners.contrastive_losses import nt_xent

    _forked(_nt_xent_halves, str(tmp_path / "g.pt"))
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


def _one_rank_non_finite(dump: str, fused: bool) -> None:
    from torch.nn.parallel import DistributedDataParallel

    from deepfeat.engine.distributed import all_ranks, any_rank
    from deepfeat.learners.base import StepContext

    dist.init_process_group("gloo")
    ctx = StepContext(all_ranks=all_ranks, any_rank=any_rank)  # what the trainer lends a learner under torchrun
    rank = dist.get_rank()
    torch.manual_seed(0)
    model = DistributedDataParallel(torch.nn.Linear(3, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, fused=fused)  # fused: skipped on the device
    x = torch.ones(4, 3) * (rank + 1)
    bad = model(x).sum() * (float("nan") if rank == 1 else 1.0)  # non-finite on rank 1 only
    skipped = bool(ctx.step(bad, opt).skipped)
    stepped = not ctx.step(model(x).sum(), opt).skipped  # the next step works on both ranks
    out: list[Any] = [None, None]
    dist.all_gather_object(out, (skipped, stepped, torch.cat([p.detach().flatten() for p in model.parameters()])))
    if rank == 0:
        torch.save(out, dump)


@pytest.mark.parametrize("fused", [False, True])
def test_a_non_finite_loss_on_one_rank_skips_the_step_on_every_rank(tmp_path: Path, fused: bool) -> None:
    """Both ranks skip together (no hang in DDP's all-reduce), then step together with identical weights; decided
    on the host for an eager optimizer, on the device (an all-reduced flag) for a fused one."""
    _forked(_one_rank_non_finite, str(tmp_path / "s.pt"), fused, timeout=60)
    (skip0, step0, w0), (skip1, step1, w1) = torch.load(tmp_path / "s.pt")
    assert (skip0, skip1, step0, step1) == (True, True, True, True)
    assert torch.equal(w0, w1)


def _untrained_fid_classifier(folder: Path) -> str:
    """A random digits classifier for the GAN's domain FID: these tests check the mechanics, not the score."""
    from deepfeat.data.datasets import load_dataset
    from deepfeat.run.model_io import export_model
    from deepfeat.learners.build import build_learner

    info, encoder = load_dataset("digits").info, {"name": "mlp", "hidden": [16]}
    export_model(build_learner("classifier", info, encoder), info, "classifier", encoder, folder)
    return str(folder)


def test_gan_on_two_processes_syncs_both_players_writes_on_rank_0_and_resumes_exactly(tmp_path: Path) -> None:
    generative = {"samples": 200, "classifier": _untrained_fid_classifier(tmp_path / "fid")}
    cfg = {**GAN, "evaluation": {**GAN.get("evaluation", {}), "settings": {"generative": generative}}}
    whole, resumed = str(tmp_path / "whole"), str(tmp_path / "resumed")
    _forked(run_jobs, [("fit", cfg, whole), ("interrupt", cfg, resumed)], str(tmp_path / "first.pt"))
    rank0, rank1 = torch.load(tmp_path / "first.pt", weights_only=False)
    (flat, state, written), (flat1, _, written1) = rank0[0], rank1[0]
    assert torch.equal(flat, flat1), "the ranks' generators or critics drifted apart"
    assert written1 == [] and rank1[1][2] == [], f"rank 1 wrote {written1 + rank1[1][2]}"
    assert {"metrics.csv", "checkpoints/last.pt", "results.json", "samples/epoch_002.png"} <= set(written)
    assert len((tmp_path / "whole" / "metrics.csv").read_text().splitlines()) == 3

    _forked(run_jobs, [("resume", cfg, resumed)], str(tmp_path / "resumed.pt"))
    (again, again_state, _), (again1, _, written1) = [r[0] for r in torch.load(tmp_path / "resumed.pt", weights_only=False)]
    assert torch.equal(again, again1) and written1 == []
    for name, value in state.items():  # weights, EMA generator, step counter: as if never interrupted
        torch.testing.assert_close(again_state[name], value, rtol=1e-6, atol=1e-7, msg=name)
    assert len((tmp_path / "resumed" / "metrics.csv").read_text().splitlines()) == 3
