"""Non-finite steps flagged on the device, read by the host only now and then (GradScaler's ``found_inf`` idea).

Each update hands the trainer a 0-dim device flag (1.0: the step was dropped as non-finite; the weights did not
change). Reading it every step would make the CPU wait for the GPU once per step; instead the flags are kept as
they are (no kernel per step) and read together every :data:`READ_EVERY` steps and at the end of each epoch,
before validation and before any callback (a checkpoint) sees the epoch. The streak, the counts and the step at
which the streak reached ``training.max_nonfinite`` are then worked out on the host, as if read step by step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Steps between two host reads: a run that diverges stops within this many steps, at 1% of a read per step.
READ_EVERY = 100


@dataclass(frozen=True)
class NonFiniteRead:
    """What one read found, up to the failing step when the streak reached the limit (``failed_at``, 1-based, with
    the learning rate of that step), else over every step since the last read."""

    skipped: int
    dropped_samples: int
    failed_at: int | None = None
    lr: float = float("nan")


class NonFiniteSteps:
    """The flags of the steps since the last read, and the streak of dropped steps that runs across reads."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.streak = 0
        self._steps: list[tuple[torch.Tensor, int, float]] = []  # (flag, batch size, learning rate) per step

    def add(self, skipped: torch.Tensor, samples: int, lr: float) -> None:
        """Keep the flag of the next step (no kernel, no host read)."""
        self._steps.append((skipped, samples, lr))

    @property
    def pending(self) -> int:
        """Steps added since the last read."""
        return len(self._steps)

    def new_epoch(self) -> None:
        """A streak does not run across epochs."""
        self.streak = 0

    def read(self, first_step: int) -> NonFiniteRead:
        """One host read of the flags since the last one; ``first_step``: the (1-based) number of the first of them."""
        steps, self._steps = self._steps, []
        if not steps:
            return NonFiniteRead(0, 0)
        flags = torch.stack([flag.float() for flag, _, _ in steps]).tolist()
        skipped = dropped = 0
        for i, (flag, (_, samples, lr)) in enumerate(zip(flags, steps)):
            self.streak = self.streak + 1 if flag else 0
            skipped, dropped = skipped + bool(flag), dropped + (samples if flag else 0)
            if self.streak >= self.limit:
                return NonFiniteRead(skipped, dropped, first_step + i, lr)
        return NonFiniteRead(skipped, dropped)
