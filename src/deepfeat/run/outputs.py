"""What a finished run computes from its splits, computed once: one pass per split for everything asked of it.

Evaluations and figures declare what they read as ``(role, output)`` pairs (:data:`Need`), with their
registry entry (``needs=`` of :func:`deepfeat.run.registries.evaluation` / ``figure``). Before any of them
runs, the run layer gathers every declared need, so the first read of a split forwards it once and
computes all its outputs together (a classifier's features, probabilities and test metrics share the
encoder pass); later reads are served from the cache. An output nobody declared is still computed on
request, in a pass of its own, and cached too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepfeat.data.splits import DataBundle
from deepfeat.engine.device import Precision
from deepfeat.engine.inference import one_pass
from deepfeat.learners.base import Learner

# (role, output): role "eval" (test, else validation, else training), "train" or "calibration" (validation,
# else training); output "metrics" or a learner output name (see Learner.inference).
Need = tuple[str, str]


def split_of(data: DataBundle, role: str) -> tuple[str, Any]:
    """``(split name, split)`` a role reads."""
    if role == "eval":
        return ("test", data.test) if data.test is not None else ("val", data.val) if data.val is not None else ("train", data.train)
    if role == "calibration":
        return ("val", data.val) if data.val is not None else ("train", data.train)
    return role, getattr(data, role)


class SplitOutputs:
    """Outputs of a trained learner per split, each computed once (``limit`` samples; metrics on the whole split)."""

    def __init__(self, learner: Learner, data: DataBundle, precision: Precision, batch_size: int = 1024,
                 limit: int | None = None) -> None:
        self.learner, self.data, self.precision = learner, data, precision
        self.batch_size, self.limit = batch_size, limit
        self.wanted: dict[str, set[str]] = {}
        self._done: dict[str, tuple[dict[str, np.ndarray], np.ndarray | None, dict[str, float]]] = {}
        self._have: dict[str, set[str]] = {}
        self.passes = 0  # forward passes over a split so far (for the benchmark and the tests)

    def want(self, needs: Any) -> "SplitOutputs":
        """Declare ``(role, output)`` pairs that will be read; each split's first read computes all of them."""
        for role, output in needs:
            self.wanted.setdefault(split_of(self.data, role)[0], set()).add(output)
        return self

    def get(self, role: str, output: str) -> tuple[np.ndarray, np.ndarray | None]:
        """``(outputs (N, ...) float32, labels (N,) or None)`` of ``output`` on the split of ``role``."""
        arrays, labels, _ = self._read(role, output)
        return arrays[output], labels

    def metrics(self, role: str = "eval") -> dict[str, float]:
        """Mean ``validation_step`` metrics over the whole split, keys ``"<split>/<name>"``."""
        return self._read(role, "metrics")[2]

    def _read(self, role: str, output: str) -> tuple[dict[str, np.ndarray], np.ndarray | None, dict[str, float]]:
        name, split = split_of(self.data, role)
        have = self._have.setdefault(name, set())
        if output not in have:
            asked = frozenset({output} | (self.wanted.get(name, set()) - have))
            arrays, labels, metrics = one_pass(self.learner, split, self.precision, asked, self.batch_size,
                                               self.limit, prefix=name)
            self.passes += 1
            old = self._done.get(name, ({}, None, {}))
            self._done[name] = ({**old[0], **arrays}, old[1] if old[1] is not None else labels, {**old[2], **metrics})
            have |= asked
        return self._done[name]
