"""Contrastive losses on pairs of views: NT-Xent (SimCLR, Chen et al. 2020)."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F


def gather_across_processes(z: torch.Tensor) -> torch.Tensor:
    """Every process's rows ``(B * world_size, D)`` with gradients flowing back to each process's own.

    Under torchrun the negatives then come from the global batch, as in SimCLR's large-batch
    training; ``torch.distributed.nn``'s all-gather is differentiable (its backward sums the
    gradients of each slice), and DDP's averaging then gives exactly the one-process gradient.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return z
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(z))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """Normalized temperature-scaled cross-entropy of two views ``(B, D)`` each -> scalar.

    Each of the 2B embeddings must pick its partner view among the 2B - 1 others by cosine
    similarity / ``temperature``; the loss is the mean over all 2B anchors (Chen et al. 2020, eq. 1;
    the other 2(B - 1) samples of the batch are the negatives).
    """
    z1, z2 = gather_across_processes(z1), gather_across_processes(z2)
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))  # an anchor is never its own candidate
    partner = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
    return F.cross_entropy(logits, partner)
