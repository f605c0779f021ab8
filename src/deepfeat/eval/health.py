"""Representation health: signs that self-supervised features are collapsing, from a batch of features.

A collapsed encoder maps every input to (nearly) the same vector, or to a low-dimensional subspace;
both make a contrastive or non-contrastive loss look fine while the features become useless.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from deepfeat.data.checks import ArrayLike, as_numpy, check_arrays
from deepfeat.eval.evaluations import register_evaluation


def normalized_std(z: torch.Tensor) -> torch.Tensor:
    """Std over the batch of L2-normalized features ``(N, D)``, averaged over dims, times sqrt(D).

    About 1 for features spread over the sphere, 0 under complete collapse (Chen & He 2021,
    SimSiam, section 4.1, which tracks the std without the sqrt(D) factor).
    """
    zn = F.normalize(z.float(), dim=1)
    return zn.std(dim=0).mean() * math.sqrt(z.shape[1])


def effective_rank(z: torch.Tensor) -> torch.Tensor:
    """``exp`` of the entropy of the normalized singular values of centered features ``(N, D)``.

    Between 1 (all features on one line) and ``min(N, D)`` (Roy & Vetterli 2007; RankMe, Garrido et
    al. 2023, which shows it tracks downstream accuracy of self-supervised features).
    """
    s = torch.linalg.svdvals(z.float() - z.float().mean(0))
    p = s / s.sum().clamp(min=1e-12) + 1e-12
    return torch.exp(-(p * p.log()).sum())


@register_evaluation("health", aliases=("feature_health",), reads="test_features", defaults={"dead_threshold": 1e-6},
                     outputs={"effective_rank": float, "effective_rank_ratio": float, "normalized_std": float,
                              "dead_fraction": float})
def feature_health(z: ArrayLike, *, dead_threshold: float = 1e-6) -> dict[str, Any]:
    """Collapse indicators of features ``z (N, D)`` as an evaluator (the ``health`` protocol).

    ``effective_rank`` and its ratio to ``min(N, D)`` (dimensional collapse), ``normalized_std``
    (complete collapse; about 1 when healthy) and ``dead_fraction``, the share of dimensions whose
    std over samples is below ``dead_threshold`` (e.g. ReLU units that never fire).
    """
    check_arrays(z, None, "health", kind="vector")
    x = torch.as_tensor(as_numpy(z), dtype=torch.float64)
    rank = float(effective_rank(x))
    return {
        "effective_rank": rank,
        "effective_rank_ratio": rank / min(x.shape),
        "normalized_std": float(normalized_std(x)),
        "dead_fraction": float((x.std(0, correction=0) < dead_threshold).double().mean()),
        "settings": {"dead_threshold": dead_threshold},
    }
