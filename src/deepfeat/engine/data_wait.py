"""How long each training step waits for its batch, and a warning when the data pipeline is what sets the pace.

A device fed by a loader that cannot keep up sits idle between steps, and nothing else in a run says so: the
loss curve looks the same, only slower. The time spent fetching each batch is added up per epoch; when it is
most of the epoch, one warning names the data pipeline and what to change.
"""

from __future__ import annotations

import logging
import time
from typing import Iterable, Iterator, TypeVar

log = logging.getLogger("deepfeat")

T = TypeVar("T")

SHARE = 0.5  # warn when fetching batches takes more than this share of an epoch's training time
MIN_SECONDS = 2.0  # ... and the epoch took at least this long (shorter ones measure noise)


class DataWait:
    """Seconds the current epoch spent waiting for batches (``waited``) and in all (``total``, at :meth:`end`)."""

    def __init__(self) -> None:
        self.waited = self.total = self.start = 0.0
        self.warned = False

    def timed(self, batches: Iterable[T]) -> Iterator[T]:
        """``batches``, each one's fetch timed; the epoch's clock starts at the first fetch."""
        self.waited, self.start = 0.0, time.perf_counter()
        iterator = iter(batches)
        while True:
            t = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                break
            self.waited += time.perf_counter() - t
            yield batch

    @property
    def share(self) -> float:
        """The share of the last epoch's time spent waiting for batches (0 before one ended)."""
        return self.waited / self.total if self.total > 0 else 0.0

    def end(self, epoch: int, workers: int) -> None:
        """Close the epoch's clock; warn once per run when it waited for data more than :data:`SHARE` of its time."""
        self.total = time.perf_counter() - self.start
        if self.warned or self.total < MIN_SECONDS or self.share <= SHARE:
            return
        self.warned = True
        log.warning(f"data pipeline: epoch {epoch + 1} waited for batches {self.share:.0%} of its "
                    f"{self.total:.1f}s ({workers} data-loading workers); the device idles meanwhile. Set "
                    "data.num_workers higher, or store the samples decoded (deepfeat pack writes shards a run streams).")
