"""Autoencoders: any encoder, a bottleneck code, and the decoder that mirrors the encoder.

``x (B, *input_shape) -> encoder -> Linear -> code (B, code_dim) -> decoder -> reconstruction``,
trained to reproduce the clean input (Hinton & Salakhutdinov 2006). One concrete class covers the
plain, denoising (a corruption of the input, Vincent et al. 2008), sparse and contractive variants:
they differ only in the parts they plug in (``noise``, ``code_penalty``), registered by name in
their own modules. ``embed`` returns the code; ``score_samples`` the per-sample reconstruction
error that anomaly detection thresholds.

Inputs arrive normalized with the training statistics; the Bernoulli likelihood works on raw values
(pixels in [0, 1]), which :class:`InputScale` recovers. Corruption and reported errors live in the
*working space* (:meth:`InputScale.to_working`): raw values for images and sequences, standardized
values for tables, whose raw features may differ in scale by 10^4 (noise of one sigma would be nothing
for one feature and everything for another, and one feature would dominate every error).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepfeat.data.info import DataInfo
from deepfeat.data.noise import build_noise
from deepfeat.errors import ConfigError, DataError
from deepfeat.learners.base import Batch, Learner
from deepfeat.learners.build import LEARNERS
from deepfeat.nn.activations import get_activation
from deepfeat.nn.decoders import build_decoder
from deepfeat.checks import check_choice, check_positive_int
from deepfeat.nn.encoder import build_encoder
from deepfeat.nn.init import init_module

LIKELIHOODS = ("gaussian", "bernoulli")

# A code penalty maps (corrupted input, code) to a scalar added to the loss (sparsity, contraction).
CodePenalty = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class InputScale(nn.Module):
    """The dataset's normalization and its inverse: ``to_raw(x) = x * std + mean``, ``from_raw`` back.

    The statistics are shaped by the data kind (:meth:`~deepfeat.data.kinds.DataKind.broadcast`), which owns the
    normalization; this module holds them as buffers so they follow the model's device.
    """

    def __init__(self, info: DataInfo) -> None:
        super().__init__()
        kind, like = info.kind_spec, torch.zeros((1,) * (len(info.input_shape) + 1))
        mean = kind.broadcast(info.mean if info.mean is not None else [0.0], like)
        std = kind.broadcast(info.std if info.std is not None else [1.0], like)
        # Not persistent: rebuilt from the DataInfo every model carries, so weights files stay clean.
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self.standardized = kind.working_space == "standardized"

    def to_raw(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean

    def from_raw(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def to_working(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized ``x`` in the space where noise is added and errors are measured (see the module doc)."""
        return x if self.standardized else self.to_raw(x)

    def from_working(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`to_working`."""
        return x if self.standardized else self.from_raw(x)


def bernoulli_target(scale: InputScale, x: torch.Tensor, learner: str) -> torch.Tensor:
    """Raw values of ``x`` as Bernoulli targets; a :class:`DataError` unless they lie in [0, 1]."""
    raw = scale.to_raw(x).float()
    if raw.min() < -1e-4 or raw.max() > 1 + 1e-4:
        raise DataError(
            f"learner '{learner}' with likelihood 'bernoulli': expected raw inputs in [0, 1], got values in "
            f"[{raw.min():.3g}, {raw.max():.3g}]. Use likelihood: gaussian, or scale the data to [0, 1]."
        )
    return raw.clamp(0, 1)


def mean_output(output: torch.Tensor, likelihood: str, scale: InputScale) -> torch.Tensor:
    """The decoder's expected reconstruction in the (normalized) input space."""
    return scale.from_raw(torch.sigmoid(output.float())) if likelihood == "bernoulli" else output.float()


class CodeLearner(Learner):
    """A learner whose features are a code: ``encoder -> linear -> activation``, ``(B, code_dim)``.

    The shared front of the autoencoders (image, vector, sequence and token); subclasses add a decoder.
    """

    neighbour_metric = "euclidean"  # the decoder reads the code's position, length included

    def build_code(self, encoder: Any, info: DataInfo, code_dim: int, code_activation: Any, name: str) -> None:
        """Set ``encoder``, ``code_dim`` and ``to_code`` (Linear with ``auto`` init + the activation)."""
        self.code_dim = check_positive_int(code_dim, f"learner '{name}' code_dim")
        self.encoder = build_encoder(encoder, info.input_shape)
        self.to_code = nn.Sequential(
            init_module(nn.Linear(self.encoder.feature_dim, self.code_dim), "auto", "zeros", code_activation),
            get_activation(code_activation),
        )

    @property
    def feature_dim(self) -> int:
        return self.code_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, *input_shape) -> (B, code_dim)``."""
        return self.to_code(self.encoder(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The code ``(B, code_dim)``."""
        return self.encode(x)


class Autoencoder(CodeLearner):
    """Encoder -> code -> mirrored decoder, trained to reconstruct the clean input.

    Shapes: ``x (B, *input_shape) -> code (B, code_dim) -> reconstruction (B, *input_shape)``.
    ``likelihood="gaussian"`` minimizes the mean squared error, ``"bernoulli"`` the binary
    cross-entropy on raw values in [0, 1]. ``noise`` (a :mod:`deepfeat.data.noise` spec, for a
    :class:`~deepfeat.learners.denoising.DenoisingAutoencoder`) corrupts the input in training and
    validation; ``code_penalty`` adds a term on the code.
    """

    capabilities = frozenset({"reconstructs", "scores"})
    evaluations = ("reconstruction", "pca_baseline", "anomaly")
    figures = ("reconstructions", "anomaly_scores", "roc_curve")
    headline = (("anomaly ROC-AUC", "evaluations.anomaly.roc_auc"), ("test PSNR", "evaluations.reconstruction.psnr"),
                ("PCA PSNR", "evaluations.pca_baseline.psnr"), ("linear probe accuracy", "evaluations.linear_probe.accuracy"))

    def __init__(self, info: DataInfo, encoder: Any = "mlp", code_dim: int = 32, likelihood: str = "gaussian",
                 noise: Any = None, code_activation: Any = "identity", code_penalty: CodePenalty | None = None,
                 name: str = "autoencoder", decoder: str = "auto") -> None:
        super().__init__()
        self.info, self.name = info, name
        if not info.kind_spec.continuous:  # MSE on token ids would train silently and mean nothing
            raise ConfigError(f"learner '{name}' at learner.name: expected vectors, images or sequences, got token ids "
                              "from a text dataset. Use learner: seq_autoencoder for text.")
        self.likelihood = check_choice(likelihood, LIKELIHOODS, f"learner '{name}' likelihood")
        self.scale = InputScale(info)
        self.build_code(encoder, info, code_dim, code_activation, name)
        self.decoder = build_decoder(self.encoder, self.code_dim, decoder)
        if noise is not None and not self.can("denoises"):  # declarations are the class's: a denoiser is its own
            raise ConfigError(f"noise at learner '{name}': expected no noise for a plain autoencoder, got {noise!r}. "
                              "Use learner: denoising (DenoisingAutoencoder in Python), whose run measures denoising.")
        self.noise = build_noise(noise, f"learner '{name}' noise") if noise is not None else None
        self.code_penalty = code_penalty

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``(B, *input_shape)`` in the normalized input space."""
        return mean_output(self.decoder(code), self.likelihood, self.scale)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``decode(encode(x))``: ``(B, *input_shape)``, normalized space."""
        return self.decode(self.encode(x))

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` with this learner's noise applied in the working space (unchanged without noise)."""
        if self.noise is None:
            return x
        return self.scale.from_working(self.noise(self.scale.to_working(x)))

    def _errors(self, output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per-element reconstruction loss ``(B, *input_shape)`` of decoder ``output`` against clean ``x``."""
        if self.likelihood == "bernoulli":
            target = bernoulli_target(self.scale, x, self.name)
            return F.binary_cross_entropy_with_logits(output.float(), target, reduction="none")
        return (output.float() - x.float()) ** 2

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        x = batch[0]
        x_in = self.corrupt(x)
        penalty_fn = self.code_penalty
        if penalty_fn is not None and getattr(penalty_fn, "needs_input_grad", False):
            if not torch.is_grad_enabled():
                penalty_fn = None  # a contractive term needs autograd; validation reports reconstruction only
            else:
                x_in = x_in.detach().requires_grad_(True)
        code = self.encode(x_in)
        output = self.decoder(code)
        recon = self._errors(output, x).mean()
        raw_mse = F.mse_loss(self.scale.to_working(mean_output(output, self.likelihood, self.scale)),
                             self.scale.to_working(x))
        out = {"loss": recon, "recon": recon.detach(), "mse": raw_mse.detach()}
        if penalty_fn is not None:
            penalty = penalty_fn(x_in, code)
            out["loss"] = recon + penalty
            out["code_penalty"] = penalty.detach()
        return out

    @torch.no_grad()
    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score ``(B,)``: each sample's mean reconstruction loss (higher = more anomalous)."""
        return self._errors(self.decoder(self.encode(x)), x).flatten(1).mean(1)


@LEARNERS.register("autoencoder", aliases=("ae",))
def autoencoder(
    info: DataInfo,
    encoder: Any = "mlp",
    code_dim: int = 32,  # the width of the code: the learned features
    likelihood: str = "gaussian",  # the reconstruction loss: gaussian (squared error) or bernoulli (cross-entropy; inputs in [0, 1])
    code_activation: str = "identity",  # applied to the code (deepfeat list activations)
    decoder: str = "auto",
) -> Autoencoder:
    """Autoencoder with a decoder mirroring the encoder (Hinton & Salakhutdinov 2006); ``decoder`` names another
    registered decoder (``conv1d``: upsample + conv for series)."""
    return Autoencoder(info, encoder, code_dim, likelihood, None, code_activation, decoder=decoder)
