"""Non-finite steps counted on the device, read by the host only now and then (GradScaler's ``found_inf`` idea).

Each update hands the trainer a 0-dim device flag (1.0: the step was dropped as non-finite; the weights did not
change). Reading it every step would make the CPU wait for the GPU once per step; instead the streak, the count
and the step at which the streak reached ``training.max_nonfinite`` accumulate on the device, and the trainer
reads them every :data:`READ_EVERY` steps and at the end of each epoch, before validation and before any
callback (a checkpoint) sees the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Steps between two host reads: a run that diverges stops within this many steps, at 1% of a read per step.
READ_EVERY = 100


@dataclass(frozen=True)
class NonFiniteRead:
    """What one read found: steps skipped since the last read and, once the streak reached the limit, the
    (1-based) step where it did and how many of the skipped steps came up to it."""

    skipped: int
    failed_at: int | None
    skipped_by_failure: int


class NonFiniteSteps:
    """The device-side record of dropped steps between two reads."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._state: torch.Tensor | None = None  # (streak, skipped, failed_at, skipped_by_failure) on the flags' device

    def add(self, skipped: torch.Tensor, step: int) -> None:
        """Record the flag of update number ``step`` (1-based): a few tiny kernels, no host read."""
        if self._state is None:
            self._state = torch.zeros(4, device=skipped.device)
        s = self._state
        flag = skipped.detach().float()
        s[0] = (s[0] + flag) * flag  # the streak: grows on a dropped step, back to 0 on a good one
        s[1] += flag
        hit = (s[0] >= self.limit) & (s[2] == 0)
        s[2] = torch.where(hit, float(step), s[2])
        s[3] = torch.where(hit, s[1], s[3])

    def new_epoch(self) -> None:
        """A streak does not run across epochs."""
        if self._state is not None:
            self._state[0] = 0

    def read(self) -> NonFiniteRead:
        """One host read; the counts start again from zero (the streak goes on)."""
        if self._state is None:
            return NonFiniteRead(0, None, 0)
        _, skipped, failed_at, by_failure = self._state.tolist()
        self._state[1:] = 0
        return NonFiniteRead(int(skipped), int(failed_at) or None, int(by_failure))
