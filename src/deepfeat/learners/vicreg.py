"""VICReg: features from two augmented views without negatives (Bardes, Ponce & LeCun 2022, ICLR).

``x -> (view1, view2) -> encoder -> h (B, feature_dim) -> expander -> z (B, expander_dim)``. The loss has three
terms on the expanded views ``z1, z2`` (eq. 1-6 of the paper): *invariance*, the mean squared distance between
the two views; *variance*, a hinge keeping the std of every dimension over the batch at or above 1; *covariance*,
the squared off-diagonal covariances, which decorrelates the dimensions. Without negatives a batch of 64-256
works (SimCLR's NT-Xent wants large batches); the variance term is what rules out collapse. ``embed`` returns
``h``, as for SimCLR. Under torchrun the terms are computed on the global batch, as in the paper's code.

Health is logged every step: the three terms, ``embedding_std`` (mean std of ``z``'s dimensions: the variance
term's target is 1), ``feature_std`` and ``effective_rank`` of ``h``; the ``ssl_health`` observer warns in the log
and in the report when they show a collapse. Its registered variant ``vicreg_knn`` also scores anomalies by the kNN
distance to the training features (:mod:`deepfeat.learners.knn_scores`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from deepfeat.data.augment import build_augment
from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.eval.health import effective_rank, normalized_std
from deepfeat.learners.build import LEARNERS
from deepfeat.learners.contrastive_losses import gather_across_processes
from deepfeat.learners.knn_scores import add_knn_scores, knn_variant
from deepfeat.learners.label_free import LabelFreeLearner
from deepfeat.checks import check_positive_int
from deepfeat.nn.encoder import build_encoder
from deepfeat.nn.mlp import MLP


def off_diagonal(m: torch.Tensor) -> torch.Tensor:
    """The off-diagonal entries of a square matrix ``(D, D)`` as a flat ``(D * (D - 1),)`` tensor."""
    d = m.shape[0]
    return m.flatten()[:-1].view(d - 1, d + 1)[:, 1:].flatten()


def vicreg_terms(z1: torch.Tensor, z2: torch.Tensor, eps: float = 1e-4) -> dict[str, torch.Tensor]:
    """Invariance, variance and covariance terms of two views ``(B, D)`` each (Bardes et al. 2022, eq. 1-5).

    ``variance``: mean over dimensions of ``relu(1 - sqrt(var + eps))``, averaged over the two views;
    ``covariance``: sum of squared off-diagonal covariances divided by ``D``, summed over the two views;
    ``embedding_std``: the mean std of the dimensions (about 1 when healthy, 0 under collapse).
    """
    z1, z2 = gather_across_processes(z1.float()), gather_across_processes(z2.float())
    n, d = z1.shape
    invariance = F.mse_loss(z1, z2)
    z1, z2 = z1 - z1.mean(0), z2 - z2.mean(0)
    std1, std2 = (z1.var(0) + eps).sqrt(), (z2.var(0) + eps).sqrt()
    variance = (F.relu(1 - std1).mean() + F.relu(1 - std2).mean()) / 2
    cov1, cov2 = z1.T @ z1 / (n - 1), z2.T @ z2 / (n - 1)
    covariance = off_diagonal(cov1).pow(2).sum() / d + off_diagonal(cov2).pow(2).sum() / d
    return {"invariance": invariance, "variance": variance, "covariance": covariance,
            "embedding_std": (std1.mean() + std2.mean()).detach() / 2}


@LEARNERS.register("vicreg", aliases=("variance_invariance_covariance",))
class VICReg(LabelFreeLearner):
    """Non-contrastive self-supervised learner: VICReg on expanded views; ``embed(x) -> (B, feature_dim)``.

    ``augment`` as for SimCLR (``"auto"``: image, sequence or audio views by data kind). The weights
    ``invariance_weight``, ``variance_weight``, ``covariance_weight`` are the paper's lambda, mu, nu (25, 25, 1).
    """

    knn_name = "vicreg"

    observers = ("ssl_health",)

    def __init__(
        self,
        info: DataInfo,
        encoder: Any = "cnn",
        expander_dim: int = 512,  # the paper uses 8192 on ImageNet; small data needs less
        expander_hidden: int = 512,
        invariance_weight: float = 25.0,
        variance_weight: float = 25.0,
        covariance_weight: float = 1.0,
        augment: Any = "auto",
        seed: int = 0,
        collapse_std: float = 0.05,
        collapse_rank: float = 2.0,
        min_embedding_std: float = 0.1,  # below this the variance hinge has lost (std target 1)
        knn_k: int | None = None,  # neighbours an anomaly score averages (the _knn variant; null: 5)
        knn_bank_size: int = 20000,
        knn_metric: str | None = None,  # cosine (null) or euclidean: the kNN score's distance
    ) -> None:
        super().__init__()
        weights = (invariance_weight, variance_weight, covariance_weight)
        if any(not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0 for w in weights) or not any(weights):
            raise ConfigError(f"learner 'vicreg' weights at learner.invariance_weight/variance_weight/covariance_weight: "
                              f"expected numbers >= 0, not all 0, got {weights}. The paper uses 25, 25, 1.")
        self.weights = tuple(float(w) for w in weights)
        self.collapse_std, self.collapse_rank, self.min_embedding_std = collapse_std, collapse_rank, min_embedding_std
        self.encoder = build_encoder(encoder, info.input_shape)
        # Expander: Linear-BN-ReLU twice, then Linear (section 4.2 of the paper).
        hidden = check_positive_int(expander_hidden, "learner 'vicreg' expander_hidden")
        self.expander = MLP(self.encoder.feature_dim, (hidden, hidden),
                            check_positive_int(expander_dim, "learner 'vicreg' expander_dim"), norm="batch")
        self.augment = build_augment(augment, info.kind, "learner.augment")
        self.seed_steps(seed)
        self.bank = add_knn_scores(self, knn_k, knn_bank_size, knn_metric)

    def _step(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        views = torch.cat([self.augment(x, generator), self.augment(x, generator)])
        h = self.encoder(views)  # one pass: batch norm sees both views together
        z = self.expander(h)
        b = x.shape[0]
        terms = vicreg_terms(z[:b], z[b:])
        lam, mu, nu = self.weights
        loss = lam * terms["invariance"] + mu * terms["variance"] + nu * terms["covariance"]
        with torch.no_grad():
            health = {"feature_std": normalized_std(h.detach()), "effective_rank": effective_rank(h.detach())}
        return {"loss": loss, **{k: v.detach() for k, v in terms.items()}, **health}




VICRegKNN = LEARNERS.register("vicreg_knn")(knn_variant(VICReg))
