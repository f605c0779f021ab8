"""Sequence autoencoder over token ids: a text encoder -> code -> GRU token decoder (teacher forcing).

``ids (B, T) -> text encoder -> Linear -> code (B, code_dim) -> TokenDecoder -> logits (B, T, V)``,
trained with the cross-entropy of the real (non-``<pad>``) tokens (Dai & Le 2015, "Semi-supervised
sequence learning"; the decoder conditioning of Bowman et al. 2016). ``embed`` returns the code;
``score_samples`` each text's mean per-token negative log-likelihood, so a long message is not more
anomalous for being long. Trained on one class (``data.normal_classes``, e.g. ham only), texts of
the other classes (spam) score higher: the run's evaluation reports ROC-AUC / AP and stores the
calibrated threshold that :mod:`deepfeat.run.apply` and ``deepfeat score`` use. For that, fit the
vocabulary so that ``<unk>`` never occurs in training (``min_freq: 1``, ``max_size`` above the normal
class's vocabulary): an unseen word then costs many nats. Where ``<unk>`` is frequent in training it
becomes a cheap, typical token, and texts full of unseen words look normal.

A separate learner rather than an ``autoencoder`` variant: the image/vector autoencoders regress
normalized values through a mirrored decoder, while text needs a categorical likelihood, a decoder
that reads the previous tokens, and its own reconstruction metrics (token accuracy, perplexity).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError, DataError
from deepfeat.learners.autoencoder import CodeLearner
from deepfeat.learners.base import Batch
from deepfeat.learners.build import LEARNERS
from deepfeat.checks import check_positive_int
from deepfeat.nn.text import PAD_ID, TokenDecoder

# Texts per forward pass in evaluation: the logits of 1,024 texts x 48 tokens x a 7,000-word
# vocabulary take 1.4 GB; 256 at a time keep scoring a whole split within a few hundred MB.
CHUNK = 256


def token_nll(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of each token ``(B, T)`` from logits ``(B, T, V)``; 0 at ``<pad>`` positions."""
    nll = F.cross_entropy(logits.float().flatten(0, 1), ids.flatten(), reduction="none").view(ids.shape)
    return nll * (ids != PAD_ID)


def sequence_nll(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood per real token of each text: ``(B,)`` (0 for an empty text)."""
    return token_nll(logits, ids).sum(1) / (ids != PAD_ID).sum(1).clamp(min=1)


def longest_text(ids: torch.Tensor) -> int:
    """Number of real tokens in the longest text of ids ``(B, T)`` (at least 1)."""
    return max(int((ids != PAD_ID).sum(1).max()), 1) if ids.numel() else 1


def vocab_size_of(info: DataInfo, encoder: nn.Module, given: int | None, learner: str = "seq_autoencoder") -> int:
    """Decoder output size: given, else the tokenizer's vocabulary, else the encoder's embedding rows."""
    if given is not None:
        return check_positive_int(given, f"learner '{learner}' vocab_size")
    vocab = (info.tokenizer or {}).get("vocab")
    size = len(vocab) if vocab else getattr(encoder, "config", {}).get("vocab_size")
    if not size:
        raise ConfigError(f"learner '{learner}' vocab_size: expected it from the tokenizer's vocabulary or the "
                          "encoder's vocab_size, got neither. Set learner.vocab_size to the number of token ids.")
    return int(size)


class SeqAutoencoder(CodeLearner):
    """Token sequence autoencoder: ``ids (B, T) -> code (B, code_dim) -> logits (B, T, vocab_size)``.

    ``encoder`` is any token encoder (``text_rnn`` by default, ``text_tcn``, ``pretrained_text``);
    the decoder is a :class:`~deepfeat.nn.text.TokenDecoder` with its own embedding of
    ``embed_dim`` and a GRU of ``hidden_size`` x ``num_layers``.
    """

    capabilities = frozenset({"scores", "reconstructs_tokens"})
    evaluations = ("text_reconstruction", "anomaly")
    figures = ("text_reconstructions", "anomaly_scores", "roc_curve")
    headline = (("anomaly ROC-AUC", "evaluations.anomaly.roc_auc"),
                ("token accuracy", "evaluations.text_reconstruction.token_accuracy"),
                ("perplexity", "evaluations.text_reconstruction.perplexity"),
                ("linear probe accuracy", "evaluations.linear_probe.accuracy"))

    def __init__(self, info: DataInfo, encoder: Any = "text_rnn", code_dim: int = 64, embed_dim: int = 64,
                 hidden_size: int = 128, num_layers: int = 1, word_dropout: float = 0.0,
                 code_activation: Any = "identity", vocab_size: int | None = None) -> None:
        super().__init__()
        if info.kind_spec.continuous:
            raise DataError(f"learner 'seq_autoencoder' at learner: expected token ids (a text dataset, kind 'tokens'), "
                            f"got kind '{info.kind}'. Use learner: autoencoder for {info.kind} data.")
        self.info = info
        self.build_code(encoder, info, code_dim, code_activation, "seq_autoencoder")
        self.vocab_size = vocab_size_of(info, self.encoder, vocab_size)
        where = "learner 'seq_autoencoder'"
        self.decoder = TokenDecoder(self.code_dim, self.vocab_size, check_positive_int(embed_dim, f"{where} embed_dim"),
                                    check_positive_int(hidden_size, f"{where} hidden_size"),
                                    check_positive_int(num_layers, f"{where} num_layers"), word_dropout)

    def _check_ids(self, x: torch.Tensor) -> None:
        top = int(x.max()) if x.numel() else 0
        if top >= self.vocab_size:
            raise DataError(f"input to learner 'seq_autoencoder': expected token ids < vocab_size={self.vocab_size}, "
                            f"got {top}. Encode texts with the run's tokenizer (deepfeat.data.tokenize.encode_texts).")

    def logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced logits ``(B, L, vocab_size)`` and their targets ``(B, L)`` for ids ``x`` (B, T).

        ``L`` is the longest text of the batch: the decoder skips the columns that are padding in every
        row, which changes no loss or score (padding is never a target) and saves most of the work.
        """
        self._check_ids(x)
        longest = longest_text(x)
        return self.decoder(self.encode(x), x[:, :longest]), x[:, :longest]

    def _totals(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Summed token NLL, number of real tokens and teacher-forced hits of ids ``x`` (B, T)."""
        logits, x = self.logits(x)
        mask = x != PAD_ID
        return token_nll(logits, x).sum(), mask.sum(), ((logits.argmax(-1) == x) & mask).sum()

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        nll, tokens, hits = self._totals(batch[0])
        return {"loss": nll / tokens.clamp(min=1), "token_acc": (hits / tokens.clamp(min=1)).detach()}

    @torch.no_grad()
    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The training step's metrics, ``CHUNK`` texts at a time (evaluation batches can be large)."""
        nll, tokens, hits = (torch.stack(t).sum() for t in zip(*(self._totals(c) for c in batch[0].split(CHUNK))))
        return {"loss": nll / tokens.clamp(min=1), "token_acc": hits / tokens.clamp(min=1)}

    @torch.no_grad()
    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score ``(B,)``: each text's mean negative log-likelihood per real token."""
        return torch.cat([sequence_nll(*self.logits(chunk)) for chunk in x.split(CHUNK)])

    @torch.no_grad()
    def token_counts(self, x: torch.Tensor) -> torch.Tensor:
        """Per text of ids ``x`` (B, T), ``CHUNK`` texts at a time: ``(B, 4)`` summed token NLL, real tokens,
        teacher-forced hits and greedy hits (decoding from the code alone, as long as the text)."""
        return torch.cat([self._counts(chunk) for chunk in x.split(CHUNK)])

    def _counts(self, x: torch.Tensor) -> torch.Tensor:
        rebuilt = self.reconstruct_tokens(x)
        logits, x = self.logits(x)
        mask = x != PAD_ID
        hits = (logits.argmax(-1) == x) & mask, (rebuilt[:, : x.shape[1]] == x) & mask
        return torch.stack([token_nll(logits, x).sum(1), mask.sum(1), hits[0].sum(1), hits[1].sum(1)], 1).float()

    @torch.no_grad()
    def reconstruct_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Greedy decoding of each text's code, as long as the text: ids ``(B, T)``, ``<pad>`` after its end."""
        self._check_ids(x)
        longest = longest_text(x)
        out = F.pad(self.decoder.greedy(self.encode(x), longest), (0, x.shape[1] - longest))
        return torch.where(x != PAD_ID, out, torch.zeros_like(out))


@LEARNERS.register("seq_autoencoder", aliases=("seq_ae", "text_autoencoder"))
def seq_autoencoder(info: DataInfo, encoder: Any = "text_rnn", code_dim: int = 64, embed_dim: int = 64,
                    hidden_size: int = 128, num_layers: int = 1, word_dropout: float = 0.0,
                    code_activation: str = "identity", vocab_size: int | None = None) -> SeqAutoencoder:
    """Token sequence autoencoder with a GRU decoder (Dai & Le 2015); scores texts by mean token NLL."""
    return SeqAutoencoder(info, encoder, code_dim, embed_dim, hidden_size, num_layers, word_dropout,
                          code_activation, vocab_size)
