"""The data-kind contract and registry: what differs between vectors, images, series, token ids and sound.

A :class:`DataKind` answers every question code above the data floor used to answer by comparing kind names:
the dtype of inputs, the shape of the normalization statistics (and the one implementation that computes and
applies them), how values are shown and measured, which augmentation suits them by default, and what a
generator outputs. ``DataInfo.kind`` stores the registered name; ``data_kind(info)`` (or ``info.kind_spec``)
returns the object. Adding a kind is one module that builds a ``DataKind`` and adds it to ``DATA_KINDS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from deepfeat.errors import DataError
from deepfeat.registry import Registry

# A feature whose training std is below this is (numerically) constant: dividing by its std would
# blow tiny test-time differences up, so it is divided by 1 instead (as scikit-learn's StandardScaler).
MIN_STD = 1e-6

# How samples are shown in reports (the renderer a figure draws them with).
IMAGE_GRID = "image_grid"  # pixels in a grid of images
SERIES_PLOT = "series_plot"  # one line per channel over time
SOUND = "spectrogram_player"  # spectrograms and playable clips at the data's sample rate
TEXT_TABLE = "text_table"  # decoded text, one row per sample
FEATURE_PLOT = "feature_plot"  # a table row's features as a line over the feature index

# What reconstructions of a kind are measured with (see deepfeat.eval.reconstruction).
MSE, PSNR, SSIM, SNR = "mse", "psnr", "ssim", "snr"


@dataclass(frozen=True)
class DataKind:
    """What one kind of sample is and how the library treats it; registered in :data:`DATA_KINDS` by ``name``.

    Attributes:
        name: the registry name ``DataInfo.kind`` stores.
        layout: a dataset's array layout, e.g. ``"(N, C, H, W)"`` (its length is the array's number of dimensions).
        description: one line for ``deepfeat list data_kinds``.
        dtype: the dtype a batch of inputs has (token ids: int64, embedded rather than computed with).
        stats: the normalization statistics: ``"feature"`` (one mean/std per feature of a vector), ``"channel"``
            (one per channel, over every other axis) or ``None`` (never normalized: token ids).
        display_range: raw values are clamped to it for display (pixels: ``(0, 1)``), else shown as they are.
        augment: the augmentation ``augment: auto`` gives two views of a sample (contrastive learning), by
            :data:`~deepfeat.data.augment.AUGMENTATIONS` name; ``None`` when no automatic one fits.
        mild_augment: the label-preserving augmentation supervised fine-tuning and ``data.augment`` take for
            ``augment: auto`` (a spec); ``"none"`` where every perturbation tried changed what a sample means.
        view: how samples are shown in reports (:data:`IMAGE_GRID`, :data:`SERIES_PLOT`, :data:`SOUND`, ...).
        measures: what reconstructions are measured with (:data:`MSE`, :data:`PSNR`, :data:`SSIM`, :data:`SNR`);
            empty where reconstructions are not values (token ids: accuracy and perplexity instead).
        working_space: where corruption is added and errors are measured: ``"raw"`` values (pixels, waveform
            samples), or ``"standardized"`` ones for tables, whose raw features may differ in scale by 10^4.
        spatial: samples are (C, H, W) grids that 2-D convolutions (and a convolutional generator) fit.
        generator_output: what a GAN's generator ends with: ``"tanh"`` (values in [-1, 1] standing for raw values
            in [0, 1], then normalized) or ``"linear"`` (normalized values directly).
        padded: samples are right-padded id sequences whose length is their count of non-padding ids.
        rate_key: the ``DataInfo.reader`` key holding the samples' rate in Hz (sound), else ``None``.
        resizable: samples are ``(C, ...)`` with axes after the channels that can be interpolated to another size (and
            one channel repeated to several), so a network trained on one size takes another; table rows and token
            ids are fixed: a network takes exactly the shape it was trained on.
    """

    name: str
    layout: str
    description: str
    dtype: torch.dtype = torch.float32
    stats: Literal["feature", "channel"] | None = "channel"
    display_range: tuple[float, float] | None = None
    augment: str | None = None
    mild_augment: Any = "none"
    view: str = SERIES_PLOT
    measures: frozenset[str] = frozenset({MSE})
    working_space: Literal["raw", "standardized"] = "raw"
    spatial: bool = False
    generator_output: Literal["tanh", "linear"] = "linear"
    padded: bool = False
    rate_key: str | None = None
    resizable: bool = False

    @property
    def ndim(self) -> int:
        """Dimensions of a dataset's array ``(N, ...)``, the sample axis included."""
        return self.layout.count(",") + 1

    @property
    def continuous(self) -> bool:
        """Whether samples are real values (reconstructed by regression) rather than categorical ids."""
        return self.dtype.is_floating_point

    def example(self, shape: Sequence[int], n: int = 1) -> torch.Tensor:
        """``n`` constant samples of ``shape`` in this kind's dtype, to probe a network's output shape with.

        Padded ids are 1, not 0: id 0 is padding, and a sequence of nothing but padding leaves masked pooling
        nothing to pool.
        """
        return torch.full((n, *shape), int(self.padded), dtype=self.dtype)

    def stat_shape(self, ndim: int) -> tuple[int, ...]:
        """The shape statistics take to broadcast over a batch of ``ndim`` dimensions: ``(1, F)`` per feature;
        ``(1, C, 1)`` for series and ``(1, C, 1, 1)`` for images per channel."""
        return (1, -1) if self.stats == "feature" else (1, -1) + (1,) * (ndim - 2)

    def statistics(self, x: torch.Tensor) -> tuple[list[float], list[float]]:
        """Mean and std of samples ``x`` (N, ...) per feature or per channel (population std; a near-zero one is 1),
        for a kind that is normalized (``stats`` set)."""
        dims = (0,) if self.stats == "feature" else (0, *range(2, x.dim()))
        std, mean = torch.std_mean(x, dim=dims, correction=0)
        std = torch.where(std < MIN_STD, torch.ones_like(std), std)
        return mean.tolist(), std.tolist()

    def broadcast(self, values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
        """Statistics ``values`` as a tensor of ``like``'s dtype and device shaped to broadcast over it."""
        return torch.tensor(list(values), dtype=like.dtype, device=like.device).view(self.stat_shape(like.dim()))

    def normalize(self, x: torch.Tensor, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> torch.Tensor:
        """``(x - mean) / std`` over a batch ``(B, ...)``; ``inplace`` saves a copy of a whole dataset."""
        m, s = self.broadcast(mean, x), self.broadcast(std, x)
        return x.sub_(m).div_(s) if inplace else (x - m) / s

    def denormalize(self, x: torch.Tensor, mean: Sequence[float] | None, std: Sequence[float] | None) -> torch.Tensor:
        """Normalized values back to raw ones, clamped to the :attr:`display_range` where the kind has one."""
        if mean is not None and std is not None:
            x = x * self.broadcast(std, x) + self.broadcast(mean, x)
        return x if self.display_range is None else x.clamp(*self.display_range)


DATA_KINDS: Registry[DataKind] = Registry("data kind")


def add_kind(kind: DataKind) -> DataKind:
    """Register ``kind`` under its name (a kind is a fixed object: its factory returns it)."""
    DATA_KINDS.add(kind.name, lambda: kind, description=kind.description)
    return kind


def kind_named(name: str, where: str = "data.kind") -> DataKind:
    """The registered :class:`DataKind` called ``name``; a ConfigError with the close names otherwise."""
    return DATA_KINDS.get(name, where)()


def array_kind(name: str, where: str) -> DataKind:
    """The kind arrays were given as (``kind=`` of a Python call or a data file); a DataError naming the kinds otherwise."""
    if name not in DATA_KINDS:
        raise DataError(f"data kind at {where}: expected one of {', '.join(DATA_KINDS.names())}, got {name!r}. "
                        "Pass a valid kind or leave it out to infer it from the array's dimensions.")
    return kind_named(name)
