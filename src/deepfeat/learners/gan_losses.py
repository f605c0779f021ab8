"""GAN objectives on critic scores (logits), and the WGAN-GP gradient penalty.

Each loss is a pair (discriminator loss, generator loss) of functions of the critic's raw scores
``(B,)`` on real and generated samples:

- ``non_saturating`` (Goodfellow et al. 2014, section 3): the discriminator's binary cross-entropy;
  the generator maximizes ``log D(G(z))`` rather than minimizing ``log(1 - D(G(z)))``, whose
  gradient vanishes exactly when the generator is worst.
- ``hinge`` (Lim & Ye 2017; Miyato et al. 2018): ``relu(1 - D(x)) + relu(1 + D(G(z)))``.
- ``wasserstein`` (Arjovsky et al. 2017): the critic estimates ``E D(x) - E D(G(z))``; it needs a
  Lipschitz constraint, here the gradient penalty (Gulrajani et al. 2017) or spectral norm.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

LOSSES = ("non_saturating", "hinge", "wasserstein")


def discriminator_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The critic's loss from its scores on real ``(B,)`` and generated ``(B,)`` samples."""
    if kind == "non_saturating":
        # -log sigmoid(r) - log(1 - sigmoid(f)) == softplus(-r) + softplus(f), stable for any logit.
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    if kind == "wasserstein":
        return fake.mean() - real.mean()
    raise ValueError(f"unknown GAN loss {kind!r}; expected one of {LOSSES}")


def generator_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss from the critic's scores on generated samples ``(B,)``."""
    if kind == "non_saturating":
        return F.softplus(-fake).mean()
    if kind in ("hinge", "wasserstein"):
        return -fake.mean()
    raise ValueError(f"unknown GAN loss {kind!r}; expected one of {LOSSES}")


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    eps: torch.Tensor | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty ``E[(||grad_x D(x_hat)||_2 - 1)^2]`` (Gulrajani et al. 2017, eq. 3).

    ``x_hat = eps * real + (1 - eps) * fake`` with one ``eps ~ U[0, 1]`` per sample (drawn when not
    given, shape ``(B,)``). The graph is kept (``create_graph``) so the penalty trains the critic.
    """
    if eps is None:
        eps = torch.rand(real.shape[0], device=real.device, dtype=real.dtype)
    eps = eps.view(-1, *([1] * (real.dim() - 1)))
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1.0).pow(2).mean()
