"""Table augmentation for self-supervised views of rows: ``augment: {name: table, corruption: 0.6}``.

A table row has no crop, jitter or blur that keeps its meaning: its features are different quantities. SCARF
(Bahri et al. 2022, "SCARF: Self-Supervised Contrastive Learning using Random Feature Corruption", ICLR) makes a
view by replacing a random ``corruption`` share of a row's features with values drawn from each feature's
empirical marginal distribution; the paper's default share is 0.6. The marginal drawn from is the batch's (the
value of that feature in a random row of the batch), so the view needs no statistics kept beside the model and
a corrupted value is always one that occurs in the data. It is the automatic augmentation of vector data, so
``simclr``, ``vicreg`` and their ``_knn`` variants train on tables with ``augment: auto``.
"""

from __future__ import annotations

import torch

from deepfeat.data.augment import AUGMENTATIONS
from deepfeat.errors import ConfigError


class TableAugment:
    """Random feature corruption (SCARF) of standardized rows ``(B, F)`` -> ``(B, F)``."""

    def __init__(self, corruption: float = 0.6) -> None:
        if isinstance(corruption, bool) or not isinstance(corruption, (int, float)) or not 0 <= corruption < 1:
            raise ConfigError(f"augment 'table' at learner.augment.corruption: expected a share in [0, 1), got "
                              f"{corruption!r}. SCARF uses 0.6.")
        self.corruption = float(corruption)

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        b, f = x.shape
        # Exactly round(corruption * F) features of each row, chosen by sorting uniform noise.
        rank = torch.rand(b, f, generator=g).argsort(1).argsort(1)
        corrupt = (rank < round(self.corruption * f)).to(x.device)
        donors = torch.randint(0, b, (b, f), generator=g).to(x.device)  # out[i, j] = x[donors[i, j], j]
        return torch.where(corrupt, x.gather(0, donors), x)


AUGMENTATIONS.add("table", TableAugment, aliases=("scarf",),
                  description="Table rows: a random share of the features replaced by other rows' values (SCARF).")
