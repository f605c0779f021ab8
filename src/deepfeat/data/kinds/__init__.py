"""Data kinds: one registered :class:`DataKind` per kind of sample (vector, image, sequence, tokens, audio)."""

from deepfeat.data.kinds import image, sequence, tokens, vector  # noqa: F401  (registers the kinds)
from deepfeat.data.kinds.audio import stored_kind
from deepfeat.data.kinds.base import (
    DATA_KINDS,
    FEATURE_PLOT,
    IMAGE_GRID,
    MSE,
    PSNR,
    SERIES_PLOT,
    SNR,
    SOUND,
    SSIM,
    TEXT_TABLE,
    DataKind,
    array_kind,
    kind_named,
)

__all__ = ["DATA_KINDS", "FEATURE_PLOT", "IMAGE_GRID", "MSE", "PSNR", "SERIES_PLOT", "SNR", "SOUND", "SSIM",
           "TEXT_TABLE", "DataKind", "array_kind", "kind_named", "stored_kind"]
