"""The shared base of the label-free learners (SimCLR, VICReg, the masked autoencoder): steps drawn from a seeded
generator saved with the weights, and the kNN anomaly scores of their ``<name>_knn`` variants, written once.
"""

from __future__ import annotations

from typing import Any, Callable, ContextManager

import torch

from deepfeat.errors import ConfigError
from deepfeat.learners.base import Batch, Learner
from deepfeat.learners.inference import evaluating
from deepfeat.learners.knn_scores import FeatureBank
from deepfeat.learners.step_rng import step_generator


class LabelFreeLearner(Learner):
    """Base of a label-free learner: ``_step(x, generator)`` is its math; this class draws its randomness.

    Training steps draw views or masks from a generator whose state lives in the buffer ``rng_buffer`` (saved with
    the weights, so a resumed run draws the same; under torchrun each process draws its own, see
    :func:`~deepfeat.learners.step_rng.step_generator`); validation draws the same ones every epoch, so its losses are
    comparable across epochs. Its registered ``<knn_name>_knn`` variant (:func:`~deepfeat.learners.knn_scores.knn_variant`)
    scores anomalies: the bank is filled when training ends and a sample scores its kNN distance to it.
    Subclasses set ``knn_name`` (their registry name), call :meth:`seed_steps` and set
    ``self.bank = add_knn_scores(self, knn_k, knn_bank_size, knn_metric)``.
    """

    knn_name = ""
    knn_default = 0  # no anomaly scores: the registered <knn_name>_knn variant scores
    rng_buffer = "view_rng"  # the buffer holding the training steps' generator state
    bank: FeatureBank | None

    def seed_steps(self, seed: int) -> None:
        """Seed the training steps' generator (``seed``) and the validation one (``seed + 1``)."""
        self.seed = seed
        self.register_buffer(self.rng_buffer, torch.Generator().manual_seed(seed).get_state())

    def _step(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} must implement _step")

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        with step_generator(self.get_buffer(self.rng_buffer)) as generator:
            return self._step(batch[0], generator)

    @torch.no_grad()
    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self._step(batch[0], torch.Generator().manual_seed(self.seed + 1))

    def on_fit_end(self, batches: Any, prepare: Callable[[torch.Tensor], torch.Tensor],
                   autocast: Callable[[], ContextManager[Any]]) -> None:
        """With kNN scores: the bank of training features, from the final (best) weights, in eval mode."""
        if self.bank is None:
            return
        with evaluating(self):
            self.bank.fill(self.embed, batches, prepare, autocast)

    @torch.no_grad()
    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score ``(B,)``: mean distance (``knn_metric``) to the ``knn_k`` nearest training features."""
        if self.bank is None:
            raise ConfigError(f"anomaly scores at learner '{self.knn_name}': expected a learner that scores, got one "
                              f"without kNN scores. Train learner: {self.knn_name}_knn, whose features score anomalies.")
        return self.bank.score(self.embed(x))


