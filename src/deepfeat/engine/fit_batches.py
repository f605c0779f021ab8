"""The training data as a learner's fit hooks see it: epochs to iterate as often as the hook needs.

:meth:`~deepfeat.learners.base.Learner.on_fit_start` and ``on_fit_end`` receive a :class:`FitBatches`.
Iterating it gives one unshuffled epoch (any number of times: a center needs one pass, a statistic two);
``shuffled(epoch)`` gives one shuffled epoch whose order depends on (seed, epoch) only, so a hook that
trains before the loop (Deep SVDD's autoencoder pretraining) is reproducible. Its orders are drawn from
their own stream of :func:`~deepfeat.engine.seeding.epoch_generator`, not the training epochs'.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from deepfeat.engine.seeding import epoch_generator
from deepfeat.learners.base import Batch


class FitBatches:
    """Re-iterable epochs of ``(x (B, ...), y (B,) or None)`` batches of one training split.

    ``split``: a split (with ``batches`` and ``num_batches``); or ``load``, a function that returns it, called on
    first use only (rebuilding an export loads the data only if the learner's hook reads it).
    """

    def __init__(self, split: Any = None, batch_size: int = 1, seed: int = 0,
                 load: Callable[[], Any] | None = None) -> None:
        if (split is None) == (load is None):
            raise ValueError("FitBatches: expected a split or a function that loads one, not both or neither")
        self._split, self._load, self.batch_size, self.seed = split, load, batch_size, seed

    @property
    def split(self) -> Any:
        if self._split is None:
            self._split = self._load()
        return self._split

    def __iter__(self) -> Iterator[Batch]:
        """One unshuffled epoch; each sample once, in the split's order."""
        return iter(self.split.batches(self.batch_size, shuffle=False))

    def __len__(self) -> int:
        """Batches per epoch."""
        return int(self.split.num_batches(self.batch_size, False, 1))

    def shuffled(self, epoch: int) -> Iterator[Batch]:
        """One shuffled epoch (each sample once); the order is a function of ``(seed, epoch)``."""
        return iter(self.split.batches(self.batch_size, shuffle=True, generator=epoch_generator(self.seed, epoch, stream=1)))
