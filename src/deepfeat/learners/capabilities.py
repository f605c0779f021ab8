"""What a learner can do, declared by name and promised as a protocol (scikit-learn's tags idea).

A learner lists its capabilities in ``Learner.capabilities``; the run layer asks ``learner.can(name)``
instead of probing for methods, and the conformance tests check that each declared capability's
protocol below is met. Every input and output is a batch in the learner's normalized input space,
except :meth:`Generates.sample`, which returns data space (what the dataset stores) for every generator.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Classifies(Protocol):
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, num_classes)``."""


@runtime_checkable
class Reconstructs(Protocol):
    code_dim: int
    scale: torch.nn.Module  # to_raw / from_raw between normalized and raw (dataset) values

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, *input_shape) -> (B, *input_shape)``, normalized space."""

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """``(B, code_dim) -> (B, *input_shape)``, normalized space."""


@runtime_checkable
class Denoises(Reconstructs, Protocol):
    noise: torch.nn.Module  # applied to raw values (what the dataset stores)

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` with the learner's own noise applied: ``(B, *input_shape)``, normalized space."""


@runtime_checkable
class Scores(Protocol):
    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score per sample ``(B,)``; higher is more anomalous."""


@runtime_checkable
class Generates(Protocol):
    def sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """``n`` new samples ``(n, *input_shape)`` in data space."""


@runtime_checkable
class Interpolates(Protocol):
    def interpolate(self, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 8) -> torch.Tensor:
        """Decodes along the latent line from ``x_a`` to ``x_b`` ``(B, ...)``: ``(B, steps, ...)``, normalized space."""


CAPABILITIES: dict[str, type] = {
    "classifies": Classifies, "reconstructs": Reconstructs, "denoises": Denoises, "scores": Scores,
    "generates": Generates, "interpolates": Interpolates,
}
