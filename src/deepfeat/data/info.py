"""What a model needs to know about its data, without the data: shapes, classes, normalization.

``DataInfo`` is stored in every run folder and exported model, so a model can be rebuilt and fed new
inputs without the training set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from deepfeat.data.kinds import DataKind, kind_named, stored_kind
from deepfeat.errors import DataError
from deepfeat.typecheck import stored_record

# The name of a registered data kind (deepfeat.data.kinds): vector, image, sequence, tokens, audio, ...
Kind = str


@dataclass
class DataInfo:
    """Shapes and statistics of a dataset, computed on its training split.

    Attributes:
        kind: the registered data kind (:mod:`deepfeat.data.kinds`): "vector" (B, F), "image" (B, C, H, W),
            "sequence" (B, C, T), "tokens" (B, T) or "audio" (B, C, T); :attr:`kind_spec` is its object.
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
            ``{sample_rate, duration}``, the rate a kind with a ``rate_key`` reads), passed to any source that takes
            them; else None.
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

    def __post_init__(self) -> None:
        # Sound was kind "sequence" with a reader sample rate before it was a kind of its own: such a record (an
        # older run folder or model, or code written then) is "audio". An unregistered kind fails here.
        self.kind = kind_named(stored_kind(self.kind, self.reader), "data info.kind").name

    @property
    def kind_spec(self) -> DataKind:
        """The registered :class:`~deepfeat.data.kinds.DataKind` of :attr:`kind`: what differs between kinds."""
        return kind_named(self.kind, "data info kind")

    @property
    def sample_rate(self) -> int | None:
        """The rate in Hz of samples that are sound (a kind with a ``rate_key``, read from :attr:`reader`), else None.

        Plots and evaluations that treat samples as sound (spectrograms, playable clips, SNR) ask this only for a
        kind shown as sound, never the dataset's name; a DataError when such data carry no rate.
        """
        key = self.kind_spec.rate_key
        if key is None:
            return None
        rate = (self.reader or {}).get(key)
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0:
            raise DataError(f"{key} at data info.reader.{key} of the {self.kind} data '{self.name}': expected a rate in Hz, "
                            f"got {rate!r}. Load sound through a source that reads it (fsdd, audio_folder), or pass the "
                            "arrays with kind 'sequence'.")
        return int(rate)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the training-split normalization to a batch ``(B, *input_shape)``."""
        if self.mean is None or self.std is None:
            return x
        return self.kind_spec.normalize(x, self.mean, self.std)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`normalize`: normalized values back to data space (images: pixels clamped to [0, 1])."""
        return self.kind_spec.denormalize(x, self.mean, self.std)

    def example(self, n: int = 2) -> torch.Tensor:
        """A batch of ``n`` constant samples of the right shape and dtype (token ids for "tokens"), for dry runs."""
        return self.kind_spec.example(self.input_shape, n)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DataInfo":
        """From a stored mapping (a checkpoint, ``model.json``): ConfigError for an unknown or missing key, a wrong type or
        an unregistered kind; a record of sound from before the "audio" kind loads as "audio"."""
        return stored_record(cls, d, "data info")
