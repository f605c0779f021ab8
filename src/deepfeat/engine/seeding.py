"""Seeds and random-number-generator state: decided and captured in one place for exact resumes."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_generator(seed: int, epoch: int, stream: int = 0) -> torch.Generator:
    """The shuffling generator of one epoch: a function of (seed, epoch) only, so a resumed run
    sees exactly the batches an uninterrupted one would. ``stream`` > 0: another sequence of orders
    over the same epochs (a learner's own pretraining epochs), independent of the training's (0)."""
    value = seed * 1_000_003 + epoch
    return torch.Generator().manual_seed(value * 7919 + 17 * stream if stream else value)


def step_seed(seed: int, epoch: int, step: int, rank: int, stream: int = 0) -> int:
    """A seed that is a function of (seed, epoch, step within the epoch, process rank, stream) only: what is drawn
    from it differs from process to process and from step to step, and a resume at any step (on any process) draws
    it again without any saved state. ``stream`` tells apart independent uses at the same step."""
    entropy = [seed % 2**64, epoch, step, rank, stream]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]) % 2**63


def rng_state() -> dict[str, Any]:
    """Every global RNG state as tensors and plain Python values (loadable with weights_only)."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
