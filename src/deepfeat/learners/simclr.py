"""SimCLR: features from two augmented views of each input, without labels (Chen et al. 2020).

``x -> (view1, view2) -> encoder -> h (B, feature_dim) -> projection head -> z (B, projection_dim)``;
NT-Xent pulls the two views' ``z`` together and pushes other inputs apart. ``embed`` returns ``h``:
the features before the projection head transfer better than ``z`` (Chen et al. 2020, section 4.2).
Representation health is logged every step (``feature_std``, ``effective_rank`` of ``h``) and a
warning is logged when the features collapse. Its registered variant ``simclr_knn`` also scores anomalies by the kNN
distance to the training features (:mod:`deepfeat.learners.knn_scores`).
"""

from __future__ import annotations

from typing import Any

import torch

from deepfeat.data.augment import build_augment
from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.eval.health import effective_rank, normalized_std
from deepfeat.learners.build import LEARNERS
from deepfeat.learners.contrastive_losses import nt_xent
from deepfeat.learners.knn_scores import add_knn_scores, knn_variant
from deepfeat.learners.label_free import LabelFreeLearner
from deepfeat.nn.encoder import build_encoder
from deepfeat.nn.heads import ProjectionHead


@LEARNERS.register("simclr", aliases=("contrastive",))
class SimCLR(LabelFreeLearner):
    """Contrastive self-supervised learner: NT-Xent on projected views; ``embed(x) -> (B, feature_dim)``.

    ``augment`` is ``"auto"`` (image, sequence or audio augmentations by data kind) or an augmentation spec
    such as ``{name: image, flip: true}``; views are drawn from a generator seeded by ``seed`` whose
    state is saved with the weights, so a resumed run sees the same views.
    """

    knn_name = "simclr"

    observers = ("collapse_warning",)

    def __init__(
        self,
        info: DataInfo,
        encoder: Any = "cnn",
        temperature: float = 0.5,
        projection_dim: int = 128,
        projection_hidden: int = 512,
        augment: Any = "auto",
        seed: int = 0,
        collapse_std: float = 0.05,
        collapse_rank: float = 2.0,
        knn_k: int | None = None,  # neighbours an anomaly score averages (the _knn variant; null: 5)
        knn_bank_size: int = 20000,
        knn_metric: str | None = None,  # cosine (null) or euclidean: the kNN score's distance
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ConfigError(f"learner.temperature: expected a positive number, got {temperature!r}. SimCLR uses 0.1-1.0.")
        self.temperature, self.collapse_std, self.collapse_rank = temperature, collapse_std, collapse_rank
        self.encoder = build_encoder(encoder, info.input_shape)
        self.projector = ProjectionHead(self.encoder.feature_dim, projection_hidden, projection_dim)
        self.augment = build_augment(augment, info.kind, "learner.augment")
        self.seed_steps(seed)
        self.bank = add_knn_scores(self, knn_k, knn_bank_size, knn_metric)

    def views(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Two augmented views of ``x (B, ...)``, stacked: ``(2B, ...)``."""
        return torch.cat([self.augment(x, generator), self.augment(x, generator)])

    def _step(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        h = self.encoder(self.views(x, generator))  # one pass: batch norm sees both views together
        z = self.projector(h).float()
        b = x.shape[0]
        loss = nt_xent(z[:b], z[b:], self.temperature)
        with torch.no_grad():
            return {"loss": loss, "feature_std": normalized_std(h.detach()), "effective_rank": effective_rank(h.detach())}




SimCLRKNN = LEARNERS.register("simclr_knn")(knn_variant(SimCLR))
