"""The learner contract: what is learned and how, independent of the training loop.

A learner is an ``nn.Module`` with a small fixed set of methods (docs/design.md section 3):
``training_step``, ``validation_step``, ``embed``, ``configure_optimizers`` and ``update``.
The default ``update`` is "one loss, one optimizer"; a GAN or any multi-optimizer learner overrides
``update`` only (Keras' ``train_step`` idea), never the trainer.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, ContextManager

import torch
from torch import nn

from deepfeat.optim.step import StepResult, apply_gradients

Batch = tuple[torch.Tensor, "torch.Tensor | None"]


@dataclass
class StepContext:
    """What the trainer lends a learner for one update: precision, clipping and the forward path.

    ``forward`` is set under DistributedDataParallel: ``forward(method, batch)`` runs
    ``learner.<method>(batch)`` through the DDP wrapper so gradients are all-reduced in backward.
    ``all_ranks(flag)`` is true when ``flag`` holds on every process (``bool`` on one process) and
    ``any_rank(flag)`` ORs a device flag over the processes (itself on one process): a non-finite loss on any
    rank skips the step on all of them. ``scaler`` is float16's loss scaler (the trainer's, saved in its
    checkpoints), None under bfloat16 and float32.
    """

    autocast: Callable[[], ContextManager[Any]] = field(default=nullcontext)
    grad_clip: float | None = None
    forward: Callable[[str, Any], dict[str, torch.Tensor]] | None = None
    all_ranks: Callable[[bool], bool] = bool
    scaler: torch.amp.GradScaler | None = None
    any_rank: Callable[[torch.Tensor], torch.Tensor] = field(default=lambda flag: flag)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer,
             skip: torch.Tensor | None = None) -> StepResult:
        """Backward, clip and step ``optimizer`` unless the step is not finite or ``skip`` (a device flag) is set
        (see :func:`~deepfeat.optim.step.apply_gradients`); ``.skipped`` is the device flag of a dropped step."""
        return apply_gradients(loss, optimizer, None, self.grad_clip, self.all_ranks, self.scaler, self.any_rank, skip)

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

    Besides the methods, a learner *declares* (docs/design.md section 3); every attribute the trainer or the
    run layer reads is here with its default, so nothing above probes a learner with ``hasattr``:

    - ``capabilities``: what it can do, from :data:`~deepfeat.learners.capabilities.CAPABILITIES`
      (``classifies``, ``reconstructs``, ``denoises``, ``scores``, ``generates``, ``interpolates``);
      each promises the methods of the protocol of that name in :mod:`deepfeat.learners.capabilities`.
    - ``evaluations``, ``figures``, ``observers``: what its run should produce, by name in the run
      layer's registries (``deepfeat list evaluations`` / ``figures`` / ``observers``).
    - ``headline``: ``(label, dotted path into results.json)`` pairs the report leads with.
    - ``neighbour_metric``: how its features are compared when searched (``cosine`` or ``euclidean``): the
      retrieval evaluation's and a saved index's default.
    - for the trainer: ``update_intervals`` (every how many batches each optimizer steps),
      ``ddp_parts`` (``{method: submodule names}`` when ``update`` trains parts in turn),
      ``find_unused_parameters`` (for DDP), and the hooks :meth:`on_fit_start` / :meth:`on_epoch_start` / :meth:`on_fit_end`,
      the only places where a learner changes its own training between steps.
    """

    encoder: nn.Module
    penalty: Callable[[nn.Module], torch.Tensor] | None = None

    capabilities: ClassVar[frozenset[str]] = frozenset()
    evaluations: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    observers: tuple[str, ...] = ()
    headline: tuple[tuple[str, str], ...] = (("linear probe accuracy", "evaluations.linear_probe.accuracy"),
                                             ("kNN accuracy", "evaluations.knn.accuracy"))
    neighbour_metric: str = "cosine"  # features trained through angles (contrastive, softmax) compare by angle

    update_intervals: tuple[int, ...] = ()
    ddp_parts: ClassVar[dict[str, tuple[str, ...]] | None] = None
    find_unused_parameters: ClassVar[bool] = False

    def can(self, capability: str) -> bool:
        """Whether this learner declares ``capability`` (see :attr:`capabilities`)."""
        return capability in self.capabilities

    def on_epoch_start(self, epoch: int) -> str | None:
        """Called by the trainer before each epoch (0-based); may change what trains. Returns a message to log."""
        return None

    def on_fit_start(self, batches: Any, prepare: Callable[[torch.Tensor], torch.Tensor],
                     autocast: Callable[[], ContextManager[Any]]) -> None:
        """Called by the trainer once before the first epoch (also on resume, after the state is restored) with
        the training batches, the input preparation and the autocast context: e.g. to fix a data-dependent
        constant such as Deep SVDD's center, or to pretrain (Deep SVDD's autoencoder).

        ``batches`` (an :class:`~deepfeat.engine.fit_batches.FitBatches` from the trainer): iterating it gives one
        unshuffled epoch of ``(x, y)`` batches, as often as needed; ``batches.shuffled(epoch)`` gives one
        shuffled epoch, its order seeded by the run's seed and ``epoch``."""

    def on_fit_end(self, batches: Any, prepare: Callable[[torch.Tensor], torch.Tensor],
                   autocast: Callable[[], ContextManager[Any]]) -> None:
        """Called by the trainer once after training (best weights restored) with the training batches, the input
        preparation and the autocast context: e.g. to recompute norm statistics. ``batches`` as in
        :meth:`on_fit_start` (iterating it gives one unshuffled epoch)."""

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

    @torch.no_grad()
    def inference(self, batch: Batch, names: frozenset[str]) -> dict[str, Any]:
        """What the run asked of one held-out batch, from as few forward passes as the outputs share.

        ``names``: ``"metrics"`` (``validation_step(batch)``, a dict of scalars) and per-sample outputs named
        by the learner method that computes them from ``x`` (``"embed"`` -> ``(B, feature_dim)``, a
        classifier's ``"predict_proba"``, an autoencoder's ``"score_samples"``, ...). The default calls each;
        a learner whose outputs share a forward pass (a classifier's features, logits and loss) overrides it.
        """
        out: dict[str, Any] = {n: getattr(self, n)(batch[0]) for n in names if n != "metrics"}
        if "metrics" in names:
            out["metrics"] = self.validation_step(batch)
        return out

    @property
    def feature_dim(self) -> int:
        return int(self.encoder.feature_dim)

    def configure_optimizers(self, spec: Any) -> list[torch.optim.Optimizer]:
        """Optimizers from a registry spec; by default one over all parameters with no-decay groups."""
        from deepfeat.optim.optimizers import build_optimizer

        return [build_optimizer(spec, self)]

    def update(
        self, batch: Batch, optimizers: list[torch.optim.Optimizer], ctx: StepContext
    ) -> dict[str, torch.Tensor]:
        """One training update. Returns detached metrics and ``"skipped"``, a 0-dim device flag (1.0: the step was
        dropped as non-finite) that the trainer reads only now and then, so no step waits for the device."""
        with ctx.autocast():
            out = ctx.call(self, "training_step", batch)
        loss = out["loss"].float()
        if self.penalty is not None:
            loss = loss + self.penalty(self)
        step = ctx.step(loss, optimizers[0])
        metrics = {k: v.detach() for k, v in out.items()}
        metrics["loss"] = loss.detach()
        metrics["skipped"] = step.skipped
        return metrics
