"""Metrics of generated samples, as pure functions of features and predicted labels.

- Frechet distance (FID, Heusel et al. 2017) and kernel distance (KID, Binkowski et al. 2018) between
  real and generated feature sets, computed by torchmetrics (fed features directly through an
  identity extractor, so any feature extractor can be used: Inception or a domain classifier).
- Improved precision and recall (Kynkaanniemi et al. 2019): the share of generated samples inside
  the real data's k-NN manifold (quality) and of real samples inside the generated one (coverage).
- Mode coverage through a classifier: how many classes the samples cover and the KL divergence of
  their class histogram from the real one (Srivastava et al. 2017, VEEGAN's "modes" measure).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfeat.errors import DataError
from deepfeat.extras import load

ArrayLike = np.ndarray | torch.Tensor


class _Given(nn.Module):
    """An identity "feature extractor": the inputs already are features ``(B, D)``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _pair(real: ArrayLike, fake: ArrayLike, where: str, min_n: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    r, f = (torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a).double() for a in (real, fake))
    if r.dim() != 2 or f.dim() != 2 or r.shape[1] != f.shape[1] or min(len(r), len(f)) < min_n:
        raise DataError(f"features at {where}: expected two (N, D) arrays with the same D and N >= {min_n}, "
                        f"got {tuple(r.shape)} and {tuple(f.shape)}")
    return r, f


def frechet_distance(real: ArrayLike, fake: ArrayLike) -> float:
    """FID ``||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2))`` of features ``(N, D)``, ``(M, D)``."""
    fid = load("torchmetrics.image.fid", "images", "frechet_distance")
    r, f = _pair(real, fake, "frechet_distance")
    metric = fid.FrechetInceptionDistance(feature=_Given(r.shape[1]))
    metric.update(r, real=True)
    metric.update(f, real=False)
    return max(float(metric.compute()), 0.0)  # tiny negative values are round-off of an exact 0


def kernel_distance(real: ArrayLike, fake: ArrayLike, subsets: int = 100, subset_size: int = 1000,
                    seed: int = 0) -> tuple[float, float]:
    """KID: unbiased squared MMD with the cubic polynomial kernel, mean and std over random subsets."""
    kid = load("torchmetrics.image.kid", "images", "kernel_distance")

    r, f = _pair(real, fake, "kernel_distance")
    size = min(subset_size, len(r), len(f))
    with warnings.catch_warnings():  # its memory warning is about images; these are small feature arrays
        warnings.simplefilter("ignore", UserWarning)
        metric = kid.KernelInceptionDistance(feature=_Given(r.shape[1]), subsets=subsets, subset_size=size)
    metric.update(r, real=True)
    metric.update(f, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the subsets are drawn from torch's global generator
        mean, std = metric.compute()
    return float(mean), float(std)


def _kth_radii(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row ``(N,)``."""
    return torch.cat([torch.cdist(x[i: i + chunk], x).kthvalue(k + 1, dim=1).values for i in range(0, len(x), chunk)])


def _inside(ref: torch.Tensor, radii: torch.Tensor, query: torch.Tensor, chunk: int) -> float:
    """Share of ``query`` rows within ``radii[j]`` of some ``ref`` row ``j``."""
    hits = [(torch.cdist(query[i: i + chunk], ref) <= radii).any(1) for i in range(0, len(query), chunk)]
    return float(torch.cat(hits).double().mean())


def precision_recall(real: ArrayLike, fake: ArrayLike, k: int = 3, chunk: int = 1024) -> dict[str, Any]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of features ``(N, D)``, ``(M, D)``.

    Each set's manifold is the union of balls around its points reaching their k-th neighbour.
    """
    r, f = _pair(real, fake, "precision_recall", min_n=k + 1)
    r, f = r.float(), f.float()
    precision = _inside(r, _kth_radii(r, k, chunk), f, chunk)
    recall = _inside(f, _kth_radii(f, k, chunk), r, chunk)
    return {"precision": precision, "recall": recall, "settings": {"k": k, "real": len(r), "fake": len(f)}}


def mode_coverage(real_labels: ArrayLike, fake_labels: ArrayLike, num_classes: int,
                  min_fraction: float = 0.1) -> dict[str, Any]:
    """Classes the generated samples cover and ``KL(fake histogram || real histogram)``.

    A class is covered when it gets at least ``min_fraction`` of the samples its real share predicts.
    """
    real = np.bincount(np.asarray(real_labels, dtype=np.int64), minlength=num_classes)[:num_classes]
    fake = np.bincount(np.asarray(fake_labels, dtype=np.int64), minlength=num_classes)[:num_classes]
    if real.sum() == 0 or fake.sum() == 0:
        raise DataError(f"labels at mode_coverage: expected non-empty label arrays, got {real.sum()} real and {fake.sum()} fake")
    p, q = real / real.sum(), fake / fake.sum()
    covered = int((fake >= min_fraction * p * fake.sum()).sum())
    mask = q > 0
    # p > 0 wherever q > 0 unless the samples land in a class absent from the data: infinite KL.
    kl = float(np.sum(q[mask] * np.log(q[mask] / p[mask]))) if (p[mask] > 0).all() else float("inf")
    return {"classes_covered": covered, "num_classes": num_classes, "class_kl": kl,
            "fake_histogram": q.round(4).tolist(), "settings": {"min_fraction": min_fraction}}
