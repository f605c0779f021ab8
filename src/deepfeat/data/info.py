"""What a model needs to know about its data, without the data: shapes, classes, normalization.

``DataInfo`` is stored in every run folder and exported model, so a model can be rebuilt and fed new
inputs without the training set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch

from deepfeat.typecheck import stored_record

Kind = Literal["vector", "image", "sequence", "tokens"]


@dataclass
class DataInfo:
    """Shapes and statistics of a dataset, computed on its training split.

    Attributes:
        kind: "vector" (B, F), "image" (B, C, H, W), "sequence" (B, C, T) or "tokens" (B, T).
        input_shape: shape of one sample, without the batch dimension.
        num_classes: number of classes (0 when unlabelled).
        class_names: one label per class, for plots.
        mean, std: per-channel (image/sequence) or per-feature (vector) normalization, or None.
        name: the dataset's registry name or path.
        tokenizer: for kind "tokens", the fitted tokenizer (``{name, max_length, vocab, ...}``, see
            :mod:`deepfeat.data.tokenize`), so new text can be encoded as in training; else None.
        split_classes: the class names each split holds (``{"train": [...], "test": [...]}``), so results
            say whether a test accuracy covers classes the model never trained on; None when unlabelled.
        reader: arguments a dataset source needs to read new samples as in training (audio:
            ``{sample_rate, duration}``), passed to any source that takes them; else None.
        windows: for samples cut from a longer series, how they were cut (``{length, stride}``, the stride
            new series are scored with), so ``deepfeat score`` cuts a new series the same way; else None.
        skipped: the files a folder source left out because they do not decode (``on_error: skip``), so
            results say which samples the run never saw; else None.
    """

    kind: Kind
    input_shape: tuple[int, ...]
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    mean: list[float] | None = None
    std: list[float] | None = None
    name: str = ""
    tokenizer: dict[str, Any] | None = None
    split_classes: dict[str, list[str]] | None = None
    reader: dict[str, Any] | None = None
    windows: dict[str, int] | None = None
    skipped: list[str] | None = None

    @property
    def sample_rate(self) -> int | None:
        """The rate in Hz of waveform samples ``(C, T)`` (audio: ``reader["sample_rate"]``), else ``None``.

        Plots and evaluations that treat samples as sound (spectrograms, playable clips, SNR) ask this,
        never the dataset's name.
        """
        rate = (self.reader or {}).get("sample_rate")
        return int(rate) if isinstance(rate, (int, float)) and not isinstance(rate, bool) and self.kind == "sequence" else None

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the training-split normalization to a batch ``(B, *input_shape)``."""
        if self.mean is None or self.std is None:
            return x
        shape = self._stat_shape(x.dim())
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(shape)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(shape)
        return (x - mean) / std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`normalize`: normalized values back to data space (images: pixels clamped to [0, 1])."""
        if self.mean is not None and self.std is not None:
            shape = self._stat_shape(x.dim())
            x = x * x.new_tensor(self.std).view(shape) + x.new_tensor(self.mean).view(shape)
        return x.clamp(0, 1) if self.kind == "image" else x

    def _stat_shape(self, ndim: int) -> tuple[int, ...]:
        if self.kind == "vector":
            return (1, -1)
        # One statistic per channel: (1, C, 1) for sequences, (1, C, 1, 1) for images.
        return (1, -1) + (1,) * (ndim - 2)

    def example(self, n: int = 2) -> torch.Tensor:
        """A batch of ``n`` all-zero samples of the right shape and dtype (token ids for "tokens"), for dry runs."""
        return torch.zeros(n, *self.input_shape, dtype=torch.long if self.kind == "tokens" else torch.float32)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DataInfo":
        """From a stored mapping (a checkpoint, ``model.json``): ConfigError for an unknown or missing key or a wrong type."""
        return stored_record(cls, d, "data info")
