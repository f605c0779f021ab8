"""The generator a training step draws its views, masks or augmentations from: a state saved with the weights, and
under torchrun one stream per process.

A learner keeps its generator's state in a buffer, so a resumed run draws what an uninterrupted one drew. Under
several processes every rank holds the same state (they advance it alike, and DDP copies rank 0's buffers at each
forward), yet each must draw its own augmentations: a rank draws one number from the shared state, the same on
every rank, and seeds its step's generator with that number and its rank. The shared state is all a checkpoint
needs, so a resume at any step, on any process, draws again exactly what the uninterrupted run drew.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.distributed as dist

SPREAD = 2**20  # ranks below this get streams seeded apart: a rank's seed is shared_draw * SPREAD + rank


def process_rank() -> tuple[int, int]:
    """``(rank, world_size)`` of this process in torchrun's group; ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextmanager
def step_generator(state: torch.Tensor, rank: int | None = None, world_size: int | None = None) -> Iterator[torch.Generator]:
    """The generator of one training step, from the generator state ``state`` (a uint8 buffer), which advances in place.

    One process: the saved generator itself. Several (``rank`` / ``world_size``, default: torchrun's group): a
    generator seeded from one shared draw and the rank, so each process draws its own numbers.
    """
    if rank is None or world_size is None:
        rank, world_size = process_rank()
    saved = torch.Generator().set_state(state.cpu())
    if world_size == 1:
        yield saved
    else:
        shared = int(torch.randint(2**42, (1,), generator=saved))
        yield torch.Generator().manual_seed(shared * SPREAD + rank)
    state.copy_(saved.get_state())
