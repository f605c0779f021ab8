"""The data as the run's encoder needs it (:meth:`~deepfeat.nn.encoder.Encoder.data_needs`): a network pretrained on
token ids reads new texts with the tokenizer that made those ids."""

from __future__ import annotations

import logging
from typing import Any

from deepfeat.data.datasets import DATASETS
from deepfeat.data.tokenize import TOKENIZERS
from deepfeat.errors import ConfigError
from deepfeat.nn.encoder import data_needs
from deepfeat.registry import accepted_params

log = logging.getLogger("deepfeat")

# The settings of a tokenizer that decide which id a text gets; the others (min_freq, max_size) only shape a
# vocabulary still to be built.
_TOKEN_IDS = ("name", "model", "vocab", "lowercase", "max_length")


def _described(tokenizer: dict[str, Any], keys: Any = _TOKEN_IDS) -> str:
    """``keys`` of a tokenizer spec for a message, a vocabulary by its size."""
    return ", ".join(f"a vocabulary of {len(tokenizer[k])} tokens" if k == "vocab" else f"{k} {tokenizer[k]!r}"
                     for k in keys if k in tokenizer)


def with_encoder_needs(spec: dict[str, Any], encoder: Any) -> dict[str, Any]:
    """The data ``spec`` as the ``encoder`` needs it: a text source reads with the tokenizer the encoder's pretrained
    network was trained on (a deepfeat text run's, vocabulary included, or a Hugging Face model's own), so each id
    means what it meant in pretraining. ConfigError when the config's own ``data.tokenizer`` gives a text other ids."""
    needed = data_needs(encoder).get("tokenizer")
    if needed is None or spec.get("name") not in DATASETS or "tokenizer" not in (accepted_params(DATASETS.get(spec["name"])) or ()):
        return spec
    own = spec.get("tokenizer") or {}
    own = {"name": own} if isinstance(own, str) else dict(own)
    if "name" in own:
        own["name"] = TOKENIZERS.canonical(own["name"], "data.tokenizer.name")
    differ = [k for k in _TOKEN_IDS if k in own and k in needed and own[k] != needed[k]]
    if differ:
        raise ConfigError(f"data.tokenizer: expected the tokenizer the encoder was pretrained with ({_described(needed)}), "
                          f"got {_described(own, differ)}. Drop data.tokenizer: the encoder's is used, so each id means "
                          "what it meant in pretraining.")
    tokenizer = {**{k: v for k, v in own.items() if k in _TOKEN_IDS}, **needed}
    if tokenizer != own:
        log.info("data.tokenizer: the encoder's own (%s)", _described(tokenizer))
    return {**spec, "tokenizer": tokenizer}
