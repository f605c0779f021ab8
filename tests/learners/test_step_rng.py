"""A training step's generator under several processes: each rank draws its own numbers from one shared state."""

from __future__ import annotations

import torch

from deepfeat.learners.step_rng import step_generator


def _state(seed: int = 3) -> torch.Tensor:
    return torch.Generator().manual_seed(seed).get_state()


def _draw(state: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    with step_generator(state, rank, world_size) as generator:
        return torch.rand(5, generator=generator)


def test_ranks_draw_apart_yet_leave_the_same_state_so_a_checkpoint_of_rank_0_resumes_every_rank() -> None:
    states = [_state() for _ in range(2)]
    first = [_draw(states[rank], rank, 2) for rank in range(2)]
    assert not torch.equal(first[0], first[1])  # each process its own augmentations
    assert torch.equal(states[0], states[1])  # ... from a state that stays the same on every rank
    saved = states[0].clone()  # what rank 0 checkpoints
    second = [_draw(states[rank], rank, 2) for rank in range(2)]
    resumed = [_draw(saved.clone(), rank, 2) for rank in range(2)]
    assert all(torch.equal(a, b) for a, b in zip(second, resumed))


def test_one_process_draws_from_the_saved_generator_itself() -> None:
    state, plain = _state(), torch.Generator().manual_seed(3)
    for _ in range(2):  # the saved state advances with each step's draws, as a plain generator would
        assert torch.equal(_draw(state, 0, 1), torch.rand(5, generator=plain))
