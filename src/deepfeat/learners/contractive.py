"""Contractive autoencoder: penalize the encoder's sensitivity to its input (Rifai et al. 2011).

The penalty is ``weight * ||J||_F^2`` with ``J = d code / d x`` per sample. Rifai et al. compute
it in closed form for one sigmoid layer; for any encoder it is estimated without bias by
Hutchinson's trick, ``||J||_F^2 = E_v ||v^T J||^2`` with ``v ~ N(0, I)`` in code space: one extra
vector-Jacobian product per step instead of ``code_dim`` of them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.autoencoder import Autoencoder
from deepfeat.learners.build import LEARNERS


def jacobian_frobenius(x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Unbiased estimate of the batch mean of ``||d code_b / d x_b||_F^2``; ``x`` must require grad."""
    v = torch.randn_like(code)
    (vjp,) = torch.autograd.grad(code, x, v, create_graph=True)
    return vjp.float().pow(2).flatten(1).sum(1).mean()


class ContractivePenalty(nn.Module):
    """``(input, code) -> weight * ||J||_F^2`` (Hutchinson estimate); needs the input's gradient."""

    needs_input_grad = True

    def __init__(self, weight: float) -> None:
        super().__init__()
        self.weight = float(weight)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        return self.weight * jacobian_frobenius(x, code)


@LEARNERS.register("contractive", aliases=("contractive_autoencoder", "cae"))
def contractive(info: DataInfo, encoder: Any = "mlp", code_dim: int = 32, likelihood: str = "gaussian",
                weight: float = 0.01, code_activation: str = "identity") -> Autoencoder:
    """Autoencoder whose code is made insensitive to small input changes (Rifai et al. 2011)."""
    if weight < 0:
        raise ConfigError(f"learner 'contractive' weight: expected a number >= 0, got {weight}")
    return Autoencoder(info, encoder, code_dim, likelihood, None, code_activation, ContractivePenalty(weight),
                       name="contractive")
