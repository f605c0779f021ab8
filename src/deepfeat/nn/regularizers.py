"""Weight penalties by name: ``none``, ``l1``, ``l2``, ``l1_l2`` (Keras' ``regularizers``).

A regularizer is a callable ``penalty(module) -> scalar tensor`` that a learner adds to its loss.
It sums over **weights only** (:func:`deepfeat.nn.params.weight_tensors`): biases, norm-layer
parameters and embeddings are never penalized. Conventions, as in Keras:
``l1 = strength * sum(|w|)`` and ``l2 = strength * sum(w ** 2)`` (no factor 1/2), so
``l2(strength=s)`` has gradient ``2 * s * w``. ``none`` builds ``None``: the learner skips the penalty
entirely instead of adding a zero every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from deepfeat.errors import ConfigError
from deepfeat.nn.params import weight_tensors
from deepfeat.registry import Registry


@dataclass(frozen=True)
class WeightPenalty:
    """``l1 * sum(|w|) + l2 * sum(w ** 2)`` over the weights of a module; returns a 0-dim tensor."""

    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self) -> None:
        for key in ("l1", "l2"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(
                    f"regularizer strength '{key}': expected a number >= 0, got {value!r}. "
                    "Use the 'none' regularizer to switch penalties off."
                )

    def __call__(self, module: nn.Module) -> torch.Tensor:
        weights = weight_tensors(module)
        if not weights:
            return torch.zeros(())
        total = weights[0].new_zeros(())
        for w in weights:
            if self.l1:
                total = total + self.l1 * w.abs().sum()
            if self.l2:
                total = total + self.l2 * w.pow(2).sum()
        return total


REGULARIZERS: Registry[Optional[WeightPenalty]] = Registry("regularizer")


@REGULARIZERS.register("none")
def none() -> None:
    """No penalty (builds ``None``, so the learner adds nothing)."""
    return None


@REGULARIZERS.register("l1")
def l1(strength: float = 1e-5) -> WeightPenalty:
    """Lasso penalty ``strength * sum(|w|)`` on weights: drives weights to exactly zero."""
    return WeightPenalty(l1=strength)


@REGULARIZERS.register("l2")
def l2(strength: float = 1e-4) -> WeightPenalty:
    """Ridge penalty ``strength * sum(w ** 2)`` on weights (no 1/2 factor)."""
    return WeightPenalty(l2=strength)


@REGULARIZERS.register("l1_l2")
def l1_l2(l1: float = 1e-5, l2: float = 1e-4) -> WeightPenalty:
    """Elastic-net penalty ``l1 * sum(|w|) + l2 * sum(w ** 2)`` on weights (Zou & Hastie 2005)."""
    return WeightPenalty(l1=l1, l2=l2)


def get_regularizer(spec: Any, where: str = "regularization") -> Optional[WeightPenalty]:
    """A penalty from a name or ``{name, ...}`` spec (``None`` for ``none``); callables pass through."""
    if spec is None:
        return None
    penalty = REGULARIZERS.build(spec, where=where)
    if penalty is not None and not callable(penalty):
        raise ConfigError(
            f"regularizer at {where}: expected a name, a {{name: ..., ...}} mapping or a callable "
            f"module -> tensor, got {type(spec).__name__} {spec!r}"
        )
    return penalty
