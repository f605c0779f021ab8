"""Reconstruction quality: mean squared error, PSNR and SSIM of reconstructions against references.

Pure functions of arrays ``(N, *shape)`` (numpy or torch). PSNR and SSIM come from torchmetrics
(the ``images`` extra), not from hand-written formulas; both are computed per image and averaged
over images, the usual convention of denoising papers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from deepfeat.data.checks import ArrayLike
from deepfeat.errors import DataError
from deepfeat.extras import load

# skimage's default SSIM window is 7x7 (uniform); smaller images use the largest odd size that fits.
_SSIM_WINDOW = 7


def _pair(reference: ArrayLike, estimate: ArrayLike, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    ref, est = (a.detach().cpu().double() if isinstance(a, torch.Tensor) else torch.tensor(np.asarray(a, np.float64))
                for a in (reference, estimate))
    if ref.shape != est.shape or ref.dim() < 2 or ref.shape[0] == 0:
        raise DataError(
            f"arrays at {where}: expected reference and estimate of the same shape (N, ...), got "
            f"{tuple(ref.shape)} and {tuple(est.shape)}. Pass one reconstruction per reference sample."
        )
    if not (torch.isfinite(ref).all() and torch.isfinite(est).all()):
        raise DataError(f"arrays at {where}: expected finite values, got NaN or inf")
    return ref, est


def mse_per_sample(reference: ArrayLike, estimate: ArrayLike) -> np.ndarray:
    """Mean squared error of each sample ``(N,)``."""
    ref, est = _pair(reference, estimate, "mse_per_sample")
    return (ref - est).pow(2).flatten(1).mean(1).numpy()


def _torchmetrics_image() -> Any:
    return load("torchmetrics.functional.image", "images", "PSNR/SSIM")


def psnr(reference: ArrayLike, estimate: ArrayLike, data_range: float = 1.0) -> float:
    """Mean over samples of ``10 log10(data_range^2 / MSE)`` in dB (torchmetrics)."""
    ref, est = _pair(reference, estimate, "psnr")
    dims = tuple(range(1, ref.dim()))
    value = _torchmetrics_image().peak_signal_noise_ratio(
        est, ref, data_range=data_range, reduction="elementwise_mean", dim=dims)
    return float(value)


def ssim(reference: ArrayLike, estimate: ArrayLike, data_range: float = 1.0) -> float:
    """Mean structural similarity (Wang et al. 2004) of images ``(N, C, H, W)`` (torchmetrics, uniform window)."""
    ref, est = _pair(reference, estimate, "ssim")
    if ref.dim() != 4:
        raise DataError(f"arrays at ssim: expected images (N, C, H, W), got shape {tuple(ref.shape)}")
    side = min(_SSIM_WINDOW, *ref.shape[2:])
    window = side if side % 2 else side - 1
    if window < 3:
        raise DataError(f"arrays at ssim: expected images of at least 3x3 pixels, got {tuple(ref.shape[2:])}")
    value = _torchmetrics_image().structural_similarity_index_measure(
        est, ref, gaussian_kernel=False, kernel_size=window, data_range=data_range)
    return float(value)


def snr_db(reference: ArrayLike, estimate: ArrayLike) -> np.ndarray:
    """Signal-to-noise ratio of each sample ``(N,)`` in dB: ``10 log10(sum ref^2 / sum (est - ref)^2)``
    over all its values (torchmetrics' ``signal_noise_ratio``, no mean removal)."""
    audio = load("torchmetrics.functional.audio", "images", "snr_db")
    ref, est = _pair(reference, estimate, "snr_db")
    return audio.signal_noise_ratio(est.flatten(1), ref.flatten(1), zero_mean=False).numpy()


def reconstruction_report(reference: ArrayLike, estimate: ArrayLike, data_range: float = 1.0,
                          images: bool = True, signal: bool = True) -> dict[str, Any]:
    """``{"mse", "psnr" (signals), "ssim" (images), "settings"}`` of ``estimate`` against ``reference``.

    PSNR measures signals (images, waveforms, series); the features of a table (``signal=False``) are not one,
    so a table gets the MSE alone, and needs no torchmetrics.
    """
    out: dict[str, Any] = {"mse": float(mse_per_sample(reference, estimate).mean())}
    if signal:
        out["psnr"] = psnr(reference, estimate, data_range)
    if signal and images:
        out["ssim"] = ssim(reference, estimate, data_range)
    out["settings"] = {"data_range": data_range, "psnr": "torchmetrics, per sample, mean" if signal else None,
                       "ssim": f"torchmetrics, uniform window up to {_SSIM_WINDOW}x{_SSIM_WINDOW}"
                       if signal and images else None}
    return out
