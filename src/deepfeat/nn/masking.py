"""Padding of variable-length series (B, C, T): which steps are real, and pooling over those only.

Series of different lengths are standardized and then zero-padded at the end
(:mod:`deepfeat.data.ragged`), so the padding is the trailing run of steps where every channel is
exactly 0. A real series that ends on exact zeros in every channel would lose those steps from the
pooling, which changes its mean by a vanishing amount; standardized real data is almost never exactly 0.
"""

from __future__ import annotations

import torch


def valid_mask(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, T) -> (B, T)`` bool: true up to each series' last step with a nonzero channel."""
    nonzero = (x != 0).any(dim=1)  # (B, T)
    steps = torch.arange(1, x.shape[-1] + 1, device=x.device)
    length = (nonzero * steps).amax(dim=1, keepdim=True)  # index + 1 of the last nonzero step (0: all zero)
    length = torch.where(length == 0, torch.full_like(length, x.shape[-1]), length)  # an all-zero series is real
    return steps <= length


def masked_time_mean(h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Global average pooling of ``h`` (B, D, T) over the steps where ``mask`` (B, T) is true: (B, D)."""
    if mask is None:
        return h.mean(dim=-1)
    m = mask.unsqueeze(1).to(h.dtype)
    return (h * m).sum(-1) / m.sum(-1).clamp(min=1.0)
