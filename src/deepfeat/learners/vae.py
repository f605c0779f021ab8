"""Variational autoencoder with a beta-weighted KL term (Kingma & Welling 2014; Higgins et al. 2017).

``q(z|x) = N(mu(x), diag(exp(logvar(x))))``, prior ``N(0, I)``; a sample ``z = mu + sigma * eps``
(the reparameterization trick) is decoded by the decoder mirroring the encoder. The loss is the
negative ELBO per sample, ``NLL(x | z) + beta * KL(q(z|x) || p(z))``, summed over dimensions.
The Gaussian likelihood learns one shared decoder scale sigma (the "calibrated decoder" of Rybkin,
Daniilidis & Levine 2021), so the balance between reconstruction and KL is fitted rather than
guessed; the Bernoulli likelihood reads raw values in [0, 1]. ``embed`` is the posterior mean.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.autoencoder import LIKELIHOODS, InputScale, bernoulli_target, mean_output
from deepfeat.learners.base import Batch, Learner
from deepfeat.learners.build import LEARNERS
from deepfeat.nn.decoders import build_decoder
from deepfeat.checks import check_choice, check_positive_int
from deepfeat.nn.encoder import build_encoder
from deepfeat.nn.init import init_module

# log-variance bounds: exp(20) and exp(-30) are far outside any useful posterior, and keep exp finite.
_LOGVAR_MIN, _LOGVAR_MAX = -30.0, 20.0
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` per sample: ``(B, D), (B, D) -> (B,)``.

    Closed form ``0.5 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)`` (Kingma & Welling 2014, App. B).
    """
    return 0.5 * (mu.float().pow(2) + logvar.float().exp() - 1.0 - logvar.float()).sum(1)


@LEARNERS.register("vae", aliases=("beta_vae", "variational_autoencoder"))
class VAE(Learner):
    """beta-VAE over any encoder: ``x (B, *input_shape) -> (mu, logvar) (B, code_dim) -> reconstruction``.

    ``beta = 1`` is the VAE of Kingma & Welling (2014); ``beta > 1`` trades reconstruction for a
    more factorized code (Higgins et al. 2017). Metrics: ``nll``, ``kl``, ``elbo`` (per sample, nats).
    """

    capabilities = frozenset({"reconstructs", "scores", "generates", "interpolates"})
    evaluations = ("reconstruction", "pca_baseline", "anomaly")
    figures = ("reconstructions", "vae_samples", "latent_traversal", "anomaly_scores", "roc_curve")
    headline = (("anomaly ROC-AUC", "evaluations.anomaly.roc_auc"), ("test PSNR", "evaluations.reconstruction.psnr"),
                ("PCA PSNR", "evaluations.pca_baseline.psnr"), ("linear probe accuracy", "evaluations.linear_probe.accuracy"))
    neighbour_metric = "euclidean"  # the posterior means live in the Gaussian prior's Euclidean space

    def __init__(self, info: DataInfo, encoder: Any = "mlp", code_dim: int = 16, likelihood: str = "gaussian",
                 beta: float = 1.0) -> None:
        super().__init__()
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
            raise ConfigError(f"learner 'vae' beta: expected a number >= 0, got {beta!r}")
        self.info, self.name, self.beta = info, "vae", float(beta)
        self.code_dim = check_positive_int(code_dim, "learner 'vae' code_dim")
        self.likelihood = check_choice(likelihood, LIKELIHOODS, "learner 'vae' likelihood")
        self.scale = InputScale(info)
        self.encoder = build_encoder(encoder, info.input_shape)
        self.to_posterior = init_module(nn.Linear(self.encoder.feature_dim, 2 * self.code_dim), "auto", "zeros", "identity")
        self.decoder = build_decoder(self.encoder, self.code_dim)
        self.log_sigma = nn.Parameter(torch.zeros(())) if self.likelihood == "gaussian" else None

    @property
    def feature_dim(self) -> int:
        return self.code_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior ``(mu, logvar)``, each ``(B, code_dim)``."""
        mu, logvar = self.to_posterior(self.encoder(x)).float().chunk(2, dim=1)
        return mu, logvar.clamp(_LOGVAR_MIN, _LOGVAR_MAX)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean ``(B, code_dim)``."""
        return self.encode(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Expected reconstruction ``(B, *input_shape)`` of codes ``z (B, code_dim)``, normalized space."""
        return mean_output(self.decoder(z), self.likelihood, self.scale)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decoded posterior mean: ``(B, *input_shape)``."""
        return self.decode(self.embed(x))

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """The input unchanged (a VAE is not trained on corrupted inputs)."""
        return x

    def nll(self, output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``-log p(x | z)`` per sample ``(B,)`` for decoder ``output`` (values or logits)."""
        if self.likelihood == "bernoulli":
            target = bernoulli_target(self.scale, x, self.name)
            per = F.binary_cross_entropy_with_logits(output.float(), target, reduction="none")
        else:
            log_sigma = self.log_sigma.float()
            per = 0.5 * ((x.float() - output.float()) * torch.exp(-log_sigma)).pow(2) + log_sigma + _HALF_LOG_2PI
        return per.flatten(1).sum(1)

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        x = batch[0]
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # reparameterization trick
        output = self.decoder(z)
        nll, kl = self.nll(output, x), gaussian_kl(mu, logvar)
        loss = (nll + self.beta * kl).mean()
        recon = self.scale.to_working(mean_output(output, self.likelihood, self.scale))
        mse = F.mse_loss(recon, self.scale.to_working(x).float())
        return {"loss": loss, "nll": nll.mean().detach(), "kl": kl.mean().detach(),
                "elbo": -(nll + kl).mean().detach(), "mse": mse.detach()}

    @torch.no_grad()
    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score ``(B,)``: the negative ELBO, evaluated deterministically at the posterior mean."""
        mu, logvar = self.encode(x)
        return self.nll(self.decoder(mu), x) + gaussian_kl(mu, logvar)

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """``n`` decoded draws from the prior: ``(n, *input_shape)``, data space (as the dataset stores it)."""
        device = next(self.parameters()).device
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        z = torch.randn(n, self.code_dim, generator=generator).to(device)
        return self.scale.to_raw(self.decode(z))

    @torch.no_grad()
    def interpolate(self, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 8) -> torch.Tensor:
        """Decodes along the line between the posterior means of ``x_a`` and ``x_b`` (B, ...): ``(B, steps, ...)``."""
        mu_a, mu_b = self.embed(x_a), self.embed(x_b)
        t = torch.linspace(0, 1, steps, device=mu_a.device).view(1, steps, 1)
        z = (1 - t) * mu_a.unsqueeze(1) + t * mu_b.unsqueeze(1)  # (B, steps, D)
        out = self.decode(z.flatten(0, 1))
        return out.view(x_a.shape[0], steps, *out.shape[1:])
