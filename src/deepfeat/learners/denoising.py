"""Denoising autoencoder: reconstruct the clean input from a corrupted copy (Vincent et al. 2008, 2010)."""

from __future__ import annotations

from typing import Any

from deepfeat.data.info import DataInfo
from deepfeat.learners.autoencoder import Autoencoder
from deepfeat.learners.build import LEARNERS


class DenoisingAutoencoder(Autoencoder):
    """An :class:`~deepfeat.learners.autoencoder.Autoencoder` with noise: the same model and loss, declared apart.

    Only the declarations differ, as class attributes, so they are read from the registered entry without
    building a learner: it denoises, and its run measures denoising and leads with it.
    """

    capabilities = Autoencoder.capabilities | {"denoises"}
    evaluations = ("reconstruction", "denoising", "pca_baseline", "anomaly")
    figures = ("reconstructions", "roc_curve")
    headline = (("SNR gain (dB)", "evaluations.denoising.snr_gain"),
                ("denoised PSNR", "evaluations.denoising.psnr_denoised"),
                ("noisy PSNR", "evaluations.denoising.psnr_noisy"),
                ("denoised SSIM", "evaluations.denoising.ssim_denoised"),
                ("anomaly ROC-AUC", "evaluations.anomaly.roc_auc"))


@LEARNERS.register("denoising", aliases=("denoising_autoencoder", "dae"))
def denoising(info: DataInfo, encoder: Any = "mlp", code_dim: int = 32, likelihood: str = "gaussian",
              noise: Any = None, code_activation: str = "identity", decoder: str = "auto") -> DenoisingAutoencoder:
    """Autoencoder fed a fresh corruption of each batch (``noise``, default Gaussian sigma 0.5 on raw values).

    ``noise`` is a :mod:`deepfeat.data.noise` spec: ``{name: gaussian, sigma: 0.5}``,
    ``{name: masking, p: 0.3}`` or ``{name: salt_and_pepper, p: 0.2}``; ``decoder`` as for ``autoencoder``.
    """
    spec = noise if noise is not None else {"name": "gaussian", "sigma": 0.5}
    return DenoisingAutoencoder(info, encoder, code_dim, likelihood, spec, code_activation, name="denoising",
                                decoder=decoder)
