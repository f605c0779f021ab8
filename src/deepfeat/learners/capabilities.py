"""What a learner can do, declared by name and promised as a protocol (scikit-learn's tags idea).

A learner lists its capabilities in ``Learner.capabilities``; the run layer asks ``learner.can(name)``
instead of probing for methods, and the conformance tests check that each declared capability's
protocol below is met. Every input and output is a batch in the learner's normalized input space,
except :meth:`Generates.sample`, which returns data space (what the dataset stores) for every generator.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, runtime_checkable

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


@runtime_checkable
class ReconstructsTokens(Protocol):
    def reconstruct_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Greedy decoding of each text's code from token ids ``(B, T)``: ids ``(B, T)``, ``<pad>`` after its end."""

    def token_counts(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 4)`` per text of ids ``(B, T)``: summed token NLL, real tokens, teacher-forced and greedy hits."""


@runtime_checkable
class TracksSamples(Generates, Protocol):
    """A generator watched while it trains on a fixed noise batch (a GAN's run monitor), so epochs compare."""

    num_fixed: int  # samples in the fixed batch
    uses_ema: bool  # whether samples come from an average of the generator's weights
    loss: str  # the adversarial loss: ``wasserstein`` is watched through the critic's estimate, others the losses

    def fixed_samples(self) -> torch.Tensor:
        """Samples of the fixed noise batch ``(num_fixed, *input_shape)``, data space."""

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        """A normalized batch (what the learner trains on) in data space, to compare with :meth:`fixed_samples`."""


@runtime_checkable
class Transfers(Protocol):
    """Trains a (pretrained) encoder with a new head by a recipe that can be re-run on fewer labels."""

    def recipe(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The settings of its learner ``spec`` that make its recipe (what a re-run on fewer labels keeps)."""

    def recipe_spec(self, method: str, recipe: Mapping[str, Any], seed: int = 0, head_epochs: int = 0) -> dict[str, Any]:
        """The learner spec ``{name, ...}`` that applies ``recipe`` by ``method``: ``fine_tune``, ``linear_probe``
        (frozen features), or ``scratch`` (the same network from random weights, nothing pretrained to protect)."""


CAPABILITIES: dict[str, type] = {
    "classifies": Classifies, "reconstructs": Reconstructs, "denoises": Denoises, "scores": Scores,
    "generates": Generates, "interpolates": Interpolates, "reconstructs_tokens": ReconstructsTokens,
    "tracks_samples": TracksSamples, "transfers": Transfers,
}
