"""Denoising autoencoder: reconstruct the clean input from a corrupted copy (Vincent et al. 2008, 2010)."""

from __future__ import annotations

from typing import Any

from deepfeat.data.info import DataInfo
from deepfeat.learners.autoencoder import Autoencoder
from deepfeat.learners.build import LEARNERS


@LEARNERS.register("denoising", aliases=("denoising_autoencoder", "dae"))
def denoising(info: DataInfo, encoder: Any = "mlp", code_dim: int = 32, likelihood: str = "gaussian",
              noise: Any = None, code_activation: str = "identity") -> Autoencoder:
    """Autoencoder fed a fresh corruption of each batch (``noise``, default Gaussian sigma 0.5 on raw values).

    ``noise`` is a :mod:`deepfeat.data.noise` spec: ``{name: gaussian, sigma: 0.5}``,
    ``{name: masking, p: 0.3}`` or ``{name: salt_and_pepper, p: 0.2}``.
    """
    spec = noise if noise is not None else {"name": "gaussian", "sigma": 0.5}
    return Autoencoder(info, encoder, code_dim, likelihood, spec, code_activation, name="denoising")
