"""Sequence autoencoder over token ids: a text encoder -> code -> GRU token decoder (teacher forcing).

``ids (B, T) -> text encoder -> Linear -> code (B, code_dim) -> TokenDecoder -> logits (B, T, V)``,
trained with the cross-entropy of the real (non-``<pad>``) tokens (Dai & Le 2015, "Semi-supervised
sequence learning"; the decoder conditioning of Bowman et al. 2016). ``embed`` returns the code;
``score_samples`` each text's mean per-token negative log-likelihood, so a long message is not more
anomalous for being long. Trained on one class (``data.train_classes``, e.g. ham only), texts of
the other classes (spam) score higher: the run's evaluation reports ROC-AUC / AP and stores the
calibrated threshold that :mod:`deepfeat.anomaly` and ``deepfeat score`` use. For that, fit the
vocabulary so that ``<unk>`` never occurs in training (``min_freq: 1``, ``max_size`` above the normal
class's vocabulary): an unseen word then costs many nats. Where ``<unk>`` is frequent in training it
becomes a cheap, typical token, and texts full of unseen words look normal.

A separate learner rather than an ``autoencoder`` variant: the image/vector autoencoders regress
normalized values through a mirrored decoder, while text needs a categorical likelihood, a decoder
that reads the previous tokens, and its own reconstruction metrics (token accuracy, perplexity).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError, DataError
from deepfeat.learners.autoencoder import CodeLearner
from deepfeat.learners.base import Batch
from deepfeat.learners.build import LEARNERS
from deepfeat.nn.encoder import check_positive_int
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


def _vocab_size(info: DataInfo, encoder: nn.Module, given: int | None) -> int:
    """Decoder output size: given, else the tokenizer's vocabulary, else the encoder's embedding rows."""
    if given is not None:
        return check_positive_int(given, "learner 'seq_autoencoder' vocab_size")
    vocab = (info.tokenizer or {}).get("vocab")
    size = len(vocab) if vocab else getattr(encoder, "config", {}).get("vocab_size")
    if not size:
        raise ConfigError("learner 'seq_autoencoder' vocab_size: expected it from the tokenizer's vocabulary or the "
                          "encoder's vocab_size, got neither. Set learner.vocab_size to the number of token ids.")
    return int(size)


class SeqAutoencoder(CodeLearner):
    """Token sequence autoencoder: ``ids (B, T) -> code (B, code_dim) -> logits (B, T, vocab_size)``.

    ``encoder`` is any token encoder (``text_rnn`` by default, ``text_tcn``, ``pretrained_text``);
    the decoder is a :class:`~deepfeat.nn.text.TokenDecoder` with its own embedding of
    ``embed_dim`` and a GRU of ``hidden_size`` x ``num_layers``.
    """

    def __init__(self, info: DataInfo, encoder: Any = "text_rnn", code_dim: int = 64, embed_dim: int = 64,
                 hidden_size: int = 128, num_layers: int = 1, word_dropout: float = 0.0,
                 code_activation: Any = "identity", vocab_size: int | None = None) -> None:
        super().__init__()
        if info.kind != "tokens":
            raise DataError(f"learner 'seq_autoencoder' at learner: expected token ids (a text dataset, kind 'tokens'), "
                            f"got kind '{info.kind}'. Use learner: autoencoder for {info.kind} data.")
        self.info = info
        self.build_code(encoder, info, code_dim, code_activation, "seq_autoencoder")
        self.vocab_size = _vocab_size(info, self.encoder, vocab_size)
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
    def reconstruct_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Greedy decoding of each text's code, as long as the text: ids ``(B, T)``, ``<pad>`` after its end."""
        self._check_ids(x)
        longest = longest_text(x)
        out = F.pad(self.decoder.greedy(self.encode(x), longest), (0, x.shape[1] - longest))
        return torch.where(x != PAD_ID, out, torch.zeros_like(out))

    def evaluate_run(self, data: Any, precision: Any) -> dict[str, Any]:
        from deepfeat.ae_evaluation import evaluate_anomaly

        return {"reconstruction": text_reconstruction(self, data, precision),
                "anomaly": evaluate_anomaly(self, data, precision)}

    def plot_run(self, run_dir: Any, data: Any, precision: Any) -> list[Any]:
        from deepfeat.ae_evaluation import plot_anomaly

        return [plot_text_reconstructions(self, run_dir, data, precision), *plot_anomaly(self, run_dir, data, precision)]


def _summary(c: np.ndarray) -> dict[str, float]:
    """Corpus-level metrics from per-text rows ``(N, 4)``: summed NLL, tokens, teacher-forced and greedy hits."""
    tokens = max(float(c[:, 1].sum()), 1.0)
    nll = float(c[:, 0].sum()) / tokens
    return {"token_nll": nll, "perplexity": math.exp(min(nll, 700.0)), "token_accuracy": float(c[:, 2].sum()) / tokens,
            "greedy_token_accuracy": float(c[:, 3].sum()) / tokens,
            "exact_match": float((c[:, 3] == c[:, 1]).mean()) if len(c) else 0.0}


def text_reconstruction(learner: SeqAutoencoder, data: Any, precision: Any) -> dict[str, Any]:
    """Token NLL, perplexity, teacher-forced and greedy token accuracy on the evaluation split's normal texts.

    In a one-class run (``data.train_classes``) the metrics cover the classes seen in training, and
    ``token_nll_anomalies`` the others; greedy decoding runs from the code alone, as long as the input.
    """
    from deepfeat.ae_evaluation import MAX_SAMPLES, eval_split, one_class_targets
    from deepfeat.engine.inference import collect

    def counts(x: torch.Tensor) -> torch.Tensor:  # (B, 4)
        rebuilt = learner.reconstruct_tokens(x)
        logits, x = learner.logits(x)
        mask = x != PAD_ID
        hits = (logits.argmax(-1) == x) & mask, (rebuilt[:, : x.shape[1]] == x) & mask
        return torch.stack([token_nll(logits, x).sum(1), mask.sum(1), hits[0].sum(1), hits[1].sum(1)], 1).float()

    name, split = eval_split(data)
    c, y = collect(learner, split, precision, counts, batch_size=CHUNK, limit=MAX_SAMPLES)
    anomalous, normal = one_class_targets(data, y)
    keep = anomalous == 0 if anomalous is not None else np.ones(len(c), bool)
    out: dict[str, Any] = _summary(c[keep])
    if anomalous is not None:
        out["token_nll_anomalies"] = _summary(c[~keep])["token_nll"]
    out["settings"] = {"split": name, "samples": int(keep.sum()), "decoding": "greedy, as long as the input",
                       **({"normal_classes": normal} if anomalous is not None else {})}
    return out


def decode_ids(ids: Sequence[int], tokenizer: dict[str, Any]) -> str:
    """Token ids of one text back to text with a run's tokenizer (``DataInfo.tokenizer``); ``<pad>`` dropped."""
    if tokenizer.get("vocab"):
        vocab = tokenizer["vocab"]
        tokens = [vocab[i] if i < len(vocab) else "<unk>" for i in ids if i != PAD_ID]
        return ("" if tokenizer.get("name") == "char" else " ").join(tokens)
    from deepfeat.data.tokenize import build_tokenizer

    return str(build_tokenizer(tokenizer).hf.decode(list(ids), skip_special_tokens=True))


def _examples(split: Any, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` texts of a split, as many of each class as there are (first texts where unlabelled)."""
    x, y = next(iter(split.batches(1024)))
    if y is None:
        return x[:n], None
    classes = torch.unique(y).tolist()
    idx = [i for c in classes for i in torch.nonzero(y == c).flatten()[: n // len(classes)].tolist()]
    return x[idx], y[idx]


def plot_text_reconstructions(learner: SeqAutoencoder, run_dir: Any, data: Any, precision: Any, n: int = 8) -> Any:
    """A figure of ``n`` texts of the evaluation split (each class where labelled) and their greedy decodings."""
    from deepfeat.ae_evaluation import eval_split
    from deepfeat.reports.figures import save_figure
    from deepfeat.reports.text_plots import text_reconstruction_table

    name, split = eval_split(data)
    x, y = _examples(split, n)
    learner.eval()
    rebuilt = learner.reconstruct_tokens(precision.prepare_input(x)).cpu()
    tok, names = learner.info.tokenizer or {}, learner.info.class_names
    rows = []
    for i, (src, out) in enumerate(zip(x.tolist(), rebuilt.tolist())):
        real = [a for a in src if a != PAD_ID]
        hits = sum(a == b for a, b in zip(src, out) if a != PAD_ID)
        label = names[int(y[i])] if y is not None and names else ""
        rows.append((label, decode_ids(src, tok), decode_ids(out, tok), f"{hits}/{len(real)} tokens recovered"))
    return save_figure(text_reconstruction_table(rows), run_dir, "text_reconstructions", title="Reconstructions",
                       section="Autoencoder",
                       caption=f"{name.capitalize()} texts and the greedy decoding of their codes (as many tokens as "
                               "the input); out-of-vocabulary words show as <unk>.")


@LEARNERS.register("seq_autoencoder", aliases=("seq_ae", "text_autoencoder"))
def seq_autoencoder(info: DataInfo, encoder: Any = "text_rnn", code_dim: int = 64, embed_dim: int = 64,
                    hidden_size: int = 128, num_layers: int = 1, word_dropout: float = 0.0,
                    code_activation: str = "identity", vocab_size: int | None = None) -> SeqAutoencoder:
    """Token sequence autoencoder with a GRU decoder (Dai & Le 2015); scores texts by mean token NLL."""
    return SeqAutoencoder(info, encoder, code_dim, embed_dim, hidden_size, num_layers, word_dropout,
                          code_activation, vocab_size)
