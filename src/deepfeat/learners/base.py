"""The learner contract: what is learned and how, independent of the training loop.

A learner is an ``nn.Module`` with a small fixed set of methods (DESIGN.md section 3):
``training_step``, ``validation_step``, ``embed``, ``configure_optimizers`` and ``update``.
The default ``update`` is "one loss, one optimizer"; a GAN or any multi-optimizer learner overrides
``update`` only (Keras' ``train_step`` idea), never the trainer.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager

import torch
from torch import nn

from deepfeat.optim.step import apply_gradients

Batch = tuple[torch.Tensor, "torch.Tensor | None"]


@dataclass
class StepContext:
    """What the trainer lends a learner for one update: precision, clipping and the forward path.

    ``forward`` is set under DistributedDataParallel: ``forward(method, batch)`` runs
    ``learner.<method>(batch)`` through the DDP wrapper so gradients are all-reduced in backward.
    """

    autocast: Callable[[], ContextManager[Any]] = field(default=nullcontext)
    grad_clip: float | None = None
    forward: Callable[[str, Any], dict[str, torch.Tensor]] | None = None

    def call(self, learner: nn.Module, method: str, batch: Any) -> dict[str, torch.Tensor]:
        """``learner.<method>(batch)``, through DDP when training on several processes."""
        if self.forward is not None:
            return self.forward(method, batch)
        return getattr(learner, method)(batch)


class Learner(nn.Module):
    """Abstract base of every learner; never instantiated itself.

    Subclasses set ``self.encoder`` (an encoder with ``feature_dim``) and implement
    ``training_step``. ``penalty`` is an optional weight regularizer ``module -> scalar`` added
    to the loss in :meth:`update` (L1/L2 on weights, built from the config's ``regularization``).
    """

    encoder: nn.Module
    penalty: Callable[[nn.Module], torch.Tensor] | None = None

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Loss and metrics on one batch; must hold ``"loss"`` (a scalar tensor with grad)."""
        raise NotImplementedError(f"{type(self).__name__} must implement training_step")

    @torch.no_grad()
    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Metrics on one held-out batch; by default the training step's, without gradients."""
        return self.training_step(batch)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Features of a batch: ``(B, *input_shape) -> (B, feature_dim)``."""
        return self.encoder(x)

    @property
    def feature_dim(self) -> int:
        return int(self.encoder.feature_dim)

    def configure_optimizers(self, spec: Any) -> list[torch.optim.Optimizer]:
        """Optimizers from a registry spec; by default one over all parameters with no-decay groups."""
        from deepfeat.optim.optimizers import build_optimizer

        return [build_optimizer(spec, self)]

    # -- optional run hooks --------------------------------------------------------------------
    # A learner may add what only it can measure or show; the run workflow calls these after
    # training (and, for callbacks, before). Defaults add nothing.

    def evaluate_run(self, data: Any, precision: Any) -> dict[str, Any]:
        """Extra evaluations on a :class:`~deepfeat.data.splits.DataBundle`: ``{name: {..., "settings": {...}}}``."""
        return {}

    def plot_run(self, run_dir: Any, data: Any, precision: Any) -> list[Any]:
        """Extra figures saved with :func:`deepfeat.reports.figures.save_figure`; returns their paths."""
        return []

    def run_callbacks(self, run_dir: Any) -> list[Any]:
        """Extra training callbacks (e.g. a GAN's sample grid per epoch)."""
        return []

    def update(
        self, batch: Batch, optimizers: list[torch.optim.Optimizer], ctx: StepContext
    ) -> dict[str, torch.Tensor]:
        """One training update. Returns detached metrics; ``"skipped"`` is set on a non-finite step."""
        with ctx.autocast():
            out = ctx.call(self, "training_step", batch)
        loss = out["loss"].float()
        if self.penalty is not None:
            loss = loss + self.penalty(self)
        norm = apply_gradients(loss, optimizers[0], None, ctx.grad_clip)
        metrics = {k: v.detach() for k, v in out.items()}
        metrics["loss"] = loss.detach()
        if norm is None:
            metrics["skipped"] = torch.ones(())
        return metrics
