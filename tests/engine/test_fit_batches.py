"""FitBatches: the training epochs a learner's fit hooks get, re-iterable and reproducibly shuffled."""

from __future__ import annotations

import torch

from deepfeat.data.splits import TensorSplit
from deepfeat.engine.fit_batches import FitBatches
from deepfeat.engine.seeding import epoch_generator


def _order(batches) -> list[int]:
    return [int(v) for x, _ in batches for v in x[:, 0]]


def test_iterating_twice_gives_the_same_unshuffled_epoch_and_shuffled_epochs_are_seeded() -> None:
    split = TensorSplit(torch.arange(10.0).unsqueeze(1), None)
    fb = FitBatches(split, 4, seed=3)
    assert len(fb) == 3
    assert _order(fb) == _order(fb) == list(range(10))  # one pass per iteration, as often as needed
    first = _order(fb.shuffled(0))
    assert sorted(first) == list(range(10)) and first != list(range(10))  # each sample once, shuffled
    assert _order(fb.shuffled(0)) == first and _order(FitBatches(split, 4, seed=3).shuffled(0)) == first
    assert _order(fb.shuffled(1)) != first and _order(FitBatches(split, 4, seed=4).shuffled(0)) != first
    training_epoch = _order(split.batches(4, shuffle=True, generator=epoch_generator(3, 0)))
    assert first != training_epoch  # its own stream, not the training's order for the same (seed, epoch)


def test_a_split_given_as_a_loader_loads_on_first_use_only() -> None:
    calls = []

    def load() -> TensorSplit:
        calls.append(1)
        return TensorSplit(torch.arange(6.0).unsqueeze(1), None)

    fb = FitBatches(batch_size=4, load=load)
    assert calls == []  # a hook that reads nothing loads nothing
    assert _order(fb) == _order(fb) == list(range(6)) and len(fb) == 2 and calls == [1]
