"""Token augmentation for self-supervised views of text: ``augment: {name: tokens, delete_p, mask_p}``.

Text has no crop or colour jitter; the views that keep a message's meaning while changing its surface are the
edit operations of EDA (Wei & Zou 2019, random deletion) and the masking of BERT-style pretraining: each real
token is deleted with probability ``delete_p`` (the rest close up to the left, the row stays right-padded) and
each remaining one is replaced by ``<unk>`` with probability ``mask_p``. A row that would lose every token keeps
its original tokens. Randomness comes from the view generator, so views are reproducible from a seed.
"""

from __future__ import annotations

import torch

from deepfeat.data.augment import AUGMENTATIONS
from deepfeat.data.tokenize import PAD_ID, UNK_ID
from deepfeat.errors import ConfigError


class TokenAugment:
    """Random deletion then ``<unk>`` masking of right-padded token ids ``(B, L)`` -> ``(B, L)``."""

    def __init__(self, delete_p: float = 0.1, mask_p: float = 0.15) -> None:
        if not (0 <= delete_p < 1 and 0 <= mask_p < 1):
            raise ConfigError(f"augment 'tokens' at learner.augment: expected delete_p and mask_p in [0, 1), got "
                              f"{delete_p!r} and {mask_p!r}. Use for example delete_p: 0.1, mask_p: 0.15.")
        self.delete_p, self.mask_p = float(delete_p), float(mask_p)

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        b, length = x.shape
        real = x != PAD_ID
        keep = real & (torch.rand(b, length, generator=g) >= self.delete_p).to(x.device)
        keep = torch.where(keep.any(1, keepdim=True), keep, real)  # never an empty message
        position = torch.arange(length, device=x.device)
        order = torch.argsort((~keep).long() * length + position, dim=1)  # kept tokens first, in their order
        out = torch.where(position < keep.sum(1, keepdim=True), x.gather(1, order), PAD_ID)
        masked = (torch.rand(b, length, generator=g) < self.mask_p).to(x.device) & (out != PAD_ID)
        return out.masked_fill(masked, UNK_ID)


AUGMENTATIONS.add("tokens", TokenAugment, description="Token ids: random deletion, then <unk> masking (text views).")
