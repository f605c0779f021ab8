"""Several processes and machines with ``torchrun``: process group, sharding, reductions, rank 0.

deepfeat runs unchanged under ``torchrun --nproc-per-node N``: the process group comes from the
environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT``),
gloo on CPU and nccl on GPU. ``training.batch_size`` is per process (PyTorch's convention): the
global batch is ``batch_size * world_size``.
"""

from __future__ import annotations

import atexit
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


_local_only = False


@contextmanager
def local_only() -> Iterator[None]:
    """Run the block as one process even under torchrun: rank 0's evaluation after training, and
    the auxiliary models it trains (a GAN's FID classifier, low-label baselines), must not wait for
    collectives the other ranks never join.

    The process group is hidden from every library meanwhile (``torch.distributed.is_initialized()``
    is False): torchmetrics, for one, would otherwise all-gather its states in ``compute()`` and hang,
    or worse, pair with an unrelated collective of another rank.
    """
    global _local_only
    previous, _local_only = _local_only, True
    is_initialized = dist.is_initialized
    dist.is_initialized = lambda: False  # type: ignore[assignment]
    try:
        yield
    finally:
        _local_only = previous
        dist.is_initialized = is_initialized  # type: ignore[assignment]


def init_distributed() -> DistContext:
    """Join the process group torchrun describes in the environment (idempotent); a 1-process context otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or _local_only:
        return DistContext()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend)
        atexit.register(_leave)
    return current()


def _leave() -> None:
    """Leave the process group before the interpreter tears down, as PyTorch asks: a rank that exits while rank 0
    still evaluates otherwise destroys its gloo threads with the interpreter, which can abort it ("terminate called
    without an active exception") after a run that succeeded."""
    if dist.is_initialized():
        dist.destroy_process_group()


def current() -> DistContext:
    """The context of an already initialized process group (or the 1-process one)."""
    if _local_only or not (dist.is_available() and dist.is_initialized()):
        return DistContext()
    return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def all_reduce_sum(values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Sum each tensor over all processes (keys sorted so every rank reduces in the same order)."""
    ctx = current()
    if not ctx.enabled:
        return values
    keys = sorted(values)
    flat = torch.stack([values[k].detach().float().reshape(()) for k in keys])
    if dist.get_backend() == "nccl":
        flat = flat.cuda()
    dist.all_reduce(flat)
    return {k: v.cpu() for k, v in zip(keys, flat)}


def all_ranks(flag: bool) -> bool:
    """True when ``flag`` is True on every process: ranks that must take the same branch (skip a step) agree."""
    if not current().enabled:
        return flag
    value = torch.tensor(int(flag), device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())


def any_rank(flag: torch.Tensor) -> torch.Tensor:
    """A 0-dim float device flag set (1.0) where it is set on any process, without a host read: an all-reduce
    (max) queued on the device, so every rank skips the same step. ``flag`` itself on one process."""
    if not current().enabled:
        return flag
    flag = flag.clone()
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return flag


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (e.g. the run folder name)."""
    if not current().enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if current().enabled:
        dist.barrier()
