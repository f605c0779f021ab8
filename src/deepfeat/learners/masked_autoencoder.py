"""Masked autoencoder: features learned by filling in hidden parts of the input (after He et al. 2022, CVPR).

He et al.'s MAE hides a random 75% of an image's patches, encodes the visible ones with a ViT and reconstructs
the hidden pixels; the loss is taken on the hidden patches only, so the encoder must model the content rather
than copy it. deepfeat's encoders (CNNs, TCNs, RNNs, MLPs, audio front-ends) take whole inputs, so this is the
simplification used for convolutional encoders (as in Pathak et al. 2016's context encoders and the CNN
baselines of He et al.): hidden parts are set to 0 (the dataset mean, inputs being standardized) and the whole
masked input is encoded; a decoder mirroring the encoder (:func:`~deepfeat.nn.decoders.build_decoder`) maps the
features back to the input, and the squared error is averaged over the hidden elements only.

What is hidden follows the shape of a sample: square patches of images ``(C, H, W)``, spans of time of series and
waveforms ``(C, T)`` (for an audio encoder, a span of the waveform is a run of its log-mel frames), single
features of vectors ``(D,)``; every channel of a patch is hidden together. Token ids ``(T,)`` are masked as BERT
does (Devlin et al. 2019: a random share of the real tokens, 15% there, replaced by ``<unk>``, never padding); the
text encoders pool a text to one vector, so a linear head predicts each hidden token from the features (a softmax over
the vocabulary) and the loss is the cross-entropy averaged over the hidden tokens. ``embed(x)`` is the encoder's
features of the unmasked input: what transfers. Health (``feature_std``, ``effective_rank`` of the features) is logged and
watched by SimCLR's collapse warning; its registered variant ``mae_knn`` adds kNN anomaly scores (:mod:`deepfeat.learners.knn_scores`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from deepfeat.data.info import DataInfo
from deepfeat.data.tokenize import PAD_ID, UNK_ID
from deepfeat.errors import ConfigError
from deepfeat.eval.health import effective_rank, normalized_std
from deepfeat.learners.build import LEARNERS
from deepfeat.learners.knn_scores import add_knn_scores, knn_variant
from deepfeat.learners.label_free import LabelFreeLearner
from deepfeat.learners.seq_autoencoder import vocab_size_of
from deepfeat.nn.decoders import build_decoder
from deepfeat.checks import check_positive_int
from deepfeat.nn.encoder import build_encoder


def auto_patch(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Patch size per masked axis: 1 for a vector's features, else about an eighth of each axis (28x28 -> 3x3)."""
    if len(input_shape) == 1:
        return (1,)
    return tuple(max(1, s // 8) for s in input_shape[1:])


def random_mask(shape: tuple[int, ...], patch: tuple[int, ...], ratio: float, generator: torch.Generator) -> torch.Tensor:
    """Which elements to hide, ``(B, 1, *spatial)`` (``(B, D)`` for vectors): a random ``ratio`` of the patches.

    ``shape``: the batch's ``(B, *input_shape)``. Every sample hides exactly ``round(ratio * patches)`` patches,
    chosen by sorting uniform noise (He et al. 2022, section 3); patches at the edge may be cut short.
    """
    b, spatial = shape[0], shape[1:] if len(shape) == 2 else shape[2:]
    grid = [math.ceil(s / p) for s, p in zip(spatial, patch)]
    n = math.prod(grid)
    hidden = min(n - 1, max(1, round(ratio * n)))
    rank = torch.rand(b, n, generator=generator).argsort(1).argsort(1)  # each patch's place in a random order
    mask = (rank < hidden).view(b, *grid)
    for axis, p in enumerate(patch, start=1):
        mask = mask.repeat_interleave(p, dim=axis)
    mask = mask[(slice(None), *(slice(0, s) for s in spatial))]
    return mask if len(shape) == 2 else mask.unsqueeze(1)


@LEARNERS.register("mae", aliases=("masked_autoencoder",))
class MaskedAutoencoder(LabelFreeLearner):
    """Hide patches / spans / features, reconstruct them from the encoder's features; ``embed(x) -> (B, feature_dim)``.

    ``mask_ratio``: the share of patches hidden (He et al.: 0.75; for text, of the real tokens: BERT's 0.15);
    ``patch``: its size per axis (an integer for every axis, or ``"auto"``); ``decoder`` as for the autoencoder
    (``auto``: the encoder's mirror; token ids always get the linear vocabulary head); ``vocab_size``: token ids
    only, else the tokenizer's vocabulary.
    """

    knn_name = "mae"
    rng_buffer = "mask_rng"

    observers = ("collapse_warning",)

    def __init__(self, info: DataInfo, encoder: Any = "cnn", mask_ratio: float = 0.75, patch: Any = "auto",
                 decoder: str = "auto", seed: int = 0, collapse_std: float = 0.05, collapse_rank: float = 2.0,
                 knn_k: int | None = None, knn_bank_size: int = 20000, vocab_size: int | None = None,
                 knn_metric: str | None = None) -> None:
        super().__init__()
        if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, (int, float)) or not 0 < mask_ratio < 1:
            raise ConfigError(f"learner 'mae' mask_ratio: expected a number in (0, 1), got {mask_ratio!r}. He et al. use 0.75.")
        axes = 1 if len(info.input_shape) == 1 else len(info.input_shape) - 1
        if patch == "auto":
            self.patch = auto_patch(tuple(info.input_shape))
        else:
            self.patch = (check_positive_int(patch, "learner 'mae' patch"),) * axes
        self.mask_ratio = float(mask_ratio)
        self.collapse_std, self.collapse_rank = collapse_std, collapse_rank
        self.encoder = build_encoder(encoder, info.input_shape)
        # A hidden value is regressed through a decoder of the whole input; a hidden token id is classified.
        self.continuous = info.kind_spec.continuous
        self.decoder = (build_decoder(self.encoder, self.encoder.feature_dim, decoder) if self.continuous else
                        nn.Linear(self.encoder.feature_dim, vocab_size_of(info, self.encoder, vocab_size, "mae")))
        self.seed_steps(seed)
        self.bank = add_knn_scores(self, knn_k, knn_bank_size, knn_metric)

    def _step(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        mask = random_mask(tuple(x.shape), self.patch, self.mask_ratio, generator).to(x.device)
        if not self.continuous:
            return self._token_step(x, mask & (x != PAD_ID))
        h = self.encoder(x.masked_fill(mask, 0.0))
        errors = (self.decoder(h).float() - x.float()) ** 2
        weight = mask.expand_as(errors).float()
        loss = (errors * weight).sum() / weight.sum().clamp(min=1.0)
        with torch.no_grad():
            visible = (errors * (1 - weight)).sum() / (1 - weight).sum().clamp(min=1.0)
            return {"loss": loss, "visible_mse": visible, "feature_std": normalized_std(h.detach()),
                    "effective_rank": effective_rank(h.detach())}

    def _token_step(self, x: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Hidden real tokens (``mask`` (B, T)) replaced by ``<unk>``; each predicted from the features ``(B, V)``."""
        h = self.encoder(x.masked_fill(mask, UNK_ID))
        nll = -torch.log_softmax(self.decoder(h).float(), dim=1).gather(1, x)  # (B, T): every position's id
        hidden = mask.float()
        loss = (nll * hidden).sum() / hidden.sum().clamp(min=1.0)
        with torch.no_grad():
            return {"loss": loss, "feature_std": normalized_std(h.detach()), "effective_rank": effective_rank(h.detach())}


MaskedAutoencoderKNN = LEARNERS.register("mae_knn")(knn_variant(MaskedAutoencoder))
