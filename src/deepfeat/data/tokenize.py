"""Text to token ids ``(N, T)`` int64: word- and character-level vocabularies, or a pretrained tokenizer.

Vocabularies are built on the training split only (like normalization statistics: building them on
all data would leak test words into the model). Id 0 is ``<pad>`` and id 1 is ``<unk>`` (every
out-of-vocabulary token); sequences are truncated or right-padded with 0 to ``max_length``, so
``ids != 0`` is the mask of real tokens. The fitted tokenizer is stored in ``DataInfo.tokenizer``
(its ``to_dict``), so a saved run or model turns new text into ids with :func:`encode_texts`.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Sequence

import numpy as np

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError, DataError
from deepfeat.registry import Registry

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
# A word is a run of letters/digits/underscores; every other non-space character is its own token,
# so "Free!!" -> ["free", "!", "!"] (punctuation matters for spam).
_WORD = re.compile(r"\w+|[^\w\s]")

TOKENIZERS: Registry[Any] = Registry("tokenizer")


class VocabTokenizer:
    """Word- or character-level tokenizer with a vocabulary fitted on training texts.

    ``min_freq``: tokens seen fewer times in training become ``<unk>``; ``max_size``: at most this
    many ids in all (``<pad>`` and ``<unk>`` included), the most frequent tokens kept (ties broken
    alphabetically, so the vocabulary is deterministic).
    """

    def __init__(self, level: str, max_length: int = 64, min_freq: int = 1, max_size: int = 20000,
                 lowercase: bool = True, vocab: Sequence[str] | None = None) -> None:
        if max_length < 1 or min_freq < 1 or max_size < 3:
            raise ConfigError(
                f"tokenizer at data.tokenizer: expected max_length >= 1, min_freq >= 1 and max_size >= 3, got "
                f"{max_length}, {min_freq} and {max_size}. Use for example max_length: 64, min_freq: 2."
            )
        self.level, self.max_length, self.min_freq = level, max_length, min_freq
        self.max_size, self.lowercase = max_size, lowercase
        self.vocab: list[str] | None = list(vocab) if vocab is not None else None
        self._ids = {tok: i for i, tok in enumerate(self.vocab or [])}

    def tokens(self, text: str) -> list[str]:
        """The tokens of one text (before the vocabulary lookup)."""
        text = text.lower() if self.lowercase else text
        return _WORD.findall(text) if self.level == "word" else list(text)

    def fit(self, texts: Sequence[str]) -> VocabTokenizer:
        """Build the vocabulary ``[<pad>, <unk>, most frequent tokens...]`` from ``texts``; returns self.

        A tokenizer built with a ``vocab`` (a saved run's ``DataInfo.tokenizer``) keeps it, so new data
        loaded with it gets the ids the run was trained on.
        """
        if self.vocab is not None:
            return self
        counts = Counter(tok for text in texts for tok in self.tokens(text))
        kept = sorted((t for t, c in counts.items() if c >= self.min_freq), key=lambda t: (-counts[t], t))
        self.vocab = [PAD, UNK, *kept[: self.max_size - 2]]
        self._ids = {tok: i for i, tok in enumerate(self.vocab)}
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Token ids ``(N, max_length)`` int64, truncated or padded with 0; unknown tokens are 1."""
        if self.vocab is None:
            raise DataError("tokenizer: expected a fitted vocabulary, got none. Call fit(train_texts) first.")
        out = np.zeros((len(texts), self.max_length), dtype=np.int64)
        for i, text in enumerate(texts):
            ids = [self._ids.get(tok, UNK_ID) for tok in self.tokens(text)[: self.max_length]]
            out[i, : len(ids)] = ids
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.level, "max_length": self.max_length, "min_freq": self.min_freq,
                "max_size": self.max_size, "lowercase": self.lowercase, "vocab": self.vocab}


class PretrainedTokenizer:
    """The Hugging Face tokenizer that comes with a pretrained model (``model``: folder or hub name).

    Ids are right-padded to ``max_length`` with the model's pad id ([CLS]/[SEP] included, as
    sentence-transformers does); ``fit`` is a no-op because the vocabulary is the model's.
    """

    def __init__(self, model: str = "all-MiniLM-L6-v2", max_length: int = 128) -> None:
        from deepfeat.nn.pretrained_text import load_hf_tokenizer, resolve_text_model

        self.model = resolve_text_model(model)
        self.max_length = max_length
        self.hf = load_hf_tokenizer(self.model)

    def fit(self, texts: Sequence[str]) -> PretrainedTokenizer:
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Token ids ``(N, max_length)`` int64, padded with the model's pad id."""
        enc = self.hf(list(texts), padding="max_length", truncation=True, max_length=self.max_length,
                      return_tensors="np")
        return enc["input_ids"].astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"name": "pretrained", "model": self.model, "max_length": self.max_length}


def _vocab_factory(level: str) -> Any:
    def build(max_length: int = 64, min_freq: int = 1, max_size: int = 20000, lowercase: bool = True,
              vocab: list[str] | None = None) -> VocabTokenizer:
        return VocabTokenizer(level, max_length, min_freq, max_size, lowercase, vocab)

    build.__doc__ = f"{level.capitalize()}-level tokenizer with a vocabulary built on the training split."
    return build


TOKENIZERS.add("word", _vocab_factory("word"))
TOKENIZERS.add("char", _vocab_factory("char"), aliases=("character",))
TOKENIZERS.add("pretrained", PretrainedTokenizer)


def build_tokenizer(spec: Any, where: str = "data.tokenizer") -> Any:
    """A tokenizer from ``"word"``, ``"char"``, ``"pretrained"`` or ``{name: word, max_length: 64, ...}``."""
    return TOKENIZERS.build(spec, where=where)


def encode_texts(texts: Sequence[str], info: DataInfo) -> np.ndarray:
    """New ``texts`` as ids ``(N, T)`` with the tokenizer a run was trained with (from ``info``)."""
    if info.tokenizer is None:
        raise DataError(
            f"text input for dataset '{info.name}': expected a model trained on text (kind 'tokens' with a "
            f"tokenizer), got kind '{info.kind}' without one. Embed arrays of shape {info.input_shape} instead."
        )
    return build_tokenizer(info.tokenizer).encode(texts)


def decode_ids(ids: Sequence[int], tokenizer: dict[str, Any]) -> str:
    """Token ids of one text back to text with a run's tokenizer (``DataInfo.tokenizer``); ``<pad>`` dropped."""
    if tokenizer.get("vocab"):
        vocab = tokenizer["vocab"]
        tokens = [vocab[i] if i < len(vocab) else UNK for i in ids if i != PAD_ID]
        return ("" if tokenizer.get("name") == "char" else " ").join(tokens)
    return str(build_tokenizer(tokenizer).hf.decode(list(ids), skip_special_tokens=True))
