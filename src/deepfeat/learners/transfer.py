"""Transfer learning: a pretrained encoder, a new head, and how much of the encoder to adapt.

Modes (Yosinski et al. 2014; Kornblith et al. 2019, "Do better ImageNet models transfer better?"):

- ``linear_probe`` trains the new head on frozen features: seconds of compute, the safest choice with
  1-2 labels per class or when the new task is close to the pretraining task.
- ``fine_tune`` trains everything. The default recipe is LP-FT (Kumar et al. 2022, "Fine-Tuning can
  Distort Pretrained Features"): the head starts as the converged linear probe of the pretrained
  features (``head_init: probe``: a logistic regression fitted with L-BFGS before the first step; ``probe_C``
  is its inverse L2 strength), then the whole network trains with the encoder at ``encoder_lr`` times the
  head's rate, so a random head never sends large gradients into pretrained features. ``head_init: random``
  with ``head_epochs: N`` is the older recipe (the head trains alone by SGD for N epochs first).
  Best from a few labels per class on.
- ``partial`` trains the last ``trainable_blocks`` encoder blocks (after the same probe start):
  for a small dataset far from the pretraining data, where low-level features transfer but high ones not.
- ``gradual`` starts like ``partial`` and unfreezes one more block every ``unfreeze_every`` epochs,
  top down (ULMFiT, Howard & Ruder 2018): for long fine-tuning runs on deep encoders.

Options for few labels: ``augment`` (``"auto"``: mild random crops for images, jitter/scale/crop for
sequences, none for audio, whose encoder augments itself; ``"none"`` to switch off), ``l2sp`` (L2-SP, Li et al. 2018: a penalty
``l2sp * ||w - w_pretrained||^2`` on the encoder's weights that keeps them near the pretrained ones
instead of near 0). Discriminative learning rates per block come from ``optimizer.layer_decay`` over
:meth:`TransferLearner.lr_blocks` (on top of ``encoder_lr``). Batch-norm policy ``bn: freeze`` keeps the
batch-norm layers of frozen blocks in eval mode (their statistics stay the pretrained ones, as in
torchvision's ``FrozenBatchNorm2d``); ``bn: train`` lets them adapt to the new data (AdaBN, Li et al. 2016).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from deepfeat.data.augment import build_augment
from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.base import Batch, Learner
from deepfeat.learners.build import LEARNERS
from deepfeat.learners.step_rng import step_generator
from deepfeat.nn.backbones import module_blocks
from deepfeat.nn.encoder import build_encoder
from deepfeat.nn.heads import LinearHead
from deepfeat.nn.params import decay_parameter_names

log = logging.getLogger("deepfeat")

Mode = Literal["linear_probe", "fine_tune", "partial", "gradual"]
# The settings a re-run of the recipe on fewer labels keeps (its mode, seed and head epochs are the re-run's own).
RECIPE_KEYS = ("bn", "head_dropout", "label_smoothing", "encoder_lr", "l2sp", "augment", "head_init", "probe_C")

def auto_augment(info: DataInfo) -> Any:
    """``augment: auto`` for this data: its kind's label-preserving augmentation
    (:attr:`~deepfeat.data.kinds.DataKind.mild_augment`: mild crops for images, jitter/scale/crop for series, none
    for audio, tables and text); ``augment: {name: audio}`` asks for waveform augmentation explicitly."""
    return info.kind_spec.mild_augment


@LEARNERS.register("transfer", aliases=("finetune", "fine_tune"))
class TransferLearner(Learner):
    """Encoder (usually ``{name: backbone, source: ...}``) + a new linear head for ``info.num_classes``.

    Shapes: ``x (B, *input_shape) -> logits (B, num_classes)``; ``embed(x) -> (B, feature_dim)``.
    Its run adds the low-label comparison (scratch / linear probe / fine-tune at 1, 5, 10, ... labels per
    class) when the config has ``evaluation.settings.low_label`` (e.g. ``{labels_per_class: [1, 5, 10, all]}``).
    """

    capabilities = frozenset({"classifies", "transfers"})
    evaluations = ("low_label",)
    figures = ("confusion_matrix", "low_label")
    headline = (("test accuracy", "test.test/acc"), ("linear probe accuracy", "evaluations.linear_probe.accuracy"))

    def __init__(
        self,
        info: DataInfo,
        encoder: Any = "cnn",
        mode: Mode = "fine_tune",
        trainable_blocks: int = 1,
        unfreeze_every: int = 1,
        bn: Literal["freeze", "train"] = "freeze",
        head_dropout: float = 0.0,
        label_smoothing: float = 0.0,
        head_epochs: int = 0,
        head_init: Literal["probe", "random"] = "probe",
        probe_C: float = 1.0,
        encoder_lr: float = 0.1,
        l2sp: float = 0.0,
        augment: Any = "auto",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if info.num_classes < 2:
            raise ConfigError(f"learner 'transfer' at learner.name: expected labelled data with >= 2 classes, got "
                              f"{info.num_classes} in dataset '{info.name}'. Use a labelled dataset.")
        if trainable_blocks < 0 or unfreeze_every < 1 or head_epochs < 0 or l2sp < 0 or not encoder_lr > 0 or not probe_C > 0:
            raise ConfigError(f"learner 'transfer': expected trainable_blocks >= 0, unfreeze_every >= 1, head_epochs >= 0, "
                              f"l2sp >= 0, encoder_lr > 0 and probe_C > 0, got {trainable_blocks}, {unfreeze_every}, "
                              f"{head_epochs}, {l2sp}, {encoder_lr} and {probe_C}")
        if head_init not in ("probe", "random"):
            raise ConfigError(f"learner 'transfer' head_init: expected 'probe' or 'random', got {head_init!r}")
        self.mode, self.bn, self.unfreeze_every = mode, bn, unfreeze_every
        self.head_epochs = 0 if mode == "linear_probe" else head_epochs
        self.encoder_lr, self.l2sp = encoder_lr, l2sp
        self.head_init, self.probe_C, self.num_classes = head_init, probe_C, info.num_classes
        self.label_smoothing = label_smoothing
        self.encoder = build_encoder(encoder, info.input_shape)
        # A batch norm without affine parameters standardizes the features the new head sees: a linear
        # probe on raw pretrained features trains far slower without it (He et al. 2022, MAE, appendix A.2).
        dim = self.encoder.feature_dim
        self.head = nn.Sequential(nn.BatchNorm1d(dim, affine=False), nn.Dropout(head_dropout), LinearHead(dim, info.num_classes))
        lr_blocks = getattr(self.encoder, "lr_blocks", None)
        self.blocks = lr_blocks() if callable(lr_blocks) else module_blocks(self.encoder)
        self.initial_blocks = {"linear_probe": 0, "fine_tune": len(self.blocks)}.get(mode, trainable_blocks)
        self.set_trainable(self.initial_blocks)
        self.augment = build_augment(auto_augment(info) if augment == "auto" else augment, info.kind, "learner.augment")
        self.register_buffer("augment_rng", torch.Generator().manual_seed(seed).get_state())
        self.register_buffer("head_fitted", torch.tensor(False))  # saved: a resumed run keeps its trained head
        # L2-SP's anchor: the pretrained weights, rebuilt with the encoder (not saved with the model).
        self.anchor = nn.Module()
        if l2sp > 0:
            names = decay_parameter_names(self.encoder)
            for i, (name, p) in enumerate(self.encoder.named_parameters()):
                if name in names:
                    self.anchor.register_buffer(f"w{i}", p.detach().clone(), persistent=False)

    def recipe(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The recipe settings its learner ``spec`` gives (:data:`RECIPE_KEYS`; the others keep their defaults)."""
        return {k: v for k, v in spec.items() if k in RECIPE_KEYS}

    def recipe_spec(self, method: str, recipe: Mapping[str, Any], seed: int = 0, head_epochs: int = 0) -> dict[str, Any]:
        """The spec of a transfer learner that applies ``recipe`` by ``method`` (``fine_tune``, ``linear_probe`` or
        ``scratch``): what the low-label evaluation trains on each label subset."""
        if method == "linear_probe":
            return {"name": "transfer", "mode": "linear_probe", **recipe}
        if method == "scratch":  # no features worth probing first and no pretrained weights to protect
            recipe, head_epochs = {**recipe, "encoder_lr": 1.0, "l2sp": 0.0, "head_init": "random"}, 0
        return {"name": "transfer", "mode": "fine_tune", **recipe, "head_epochs": head_epochs, "seed": seed}

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        """Weights saved before ``head_fitted`` existed load as fitted (their head was trained), as batch norm
        fills in a missing ``num_batches_tracked``; a resumed old run must not refit its head."""
        state_dict.setdefault(prefix + "head_fitted", torch.tensor(True))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- freezing --------------------------------------------------------------------------------
    def set_trainable(self, top: int) -> None:
        """Train the last ``top`` encoder blocks (and the head); freeze the others, with their norms."""
        self.trainable_top = max(0, min(int(top), len(self.blocks)))
        first = len(self.blocks) - self.trainable_top
        for i, (_, block) in enumerate(self.blocks):
            block.requires_grad_(i >= first)
        self.train(self.training)

    def frozen_blocks(self) -> list[tuple[str, nn.Module]]:
        """The encoder blocks that are frozen now, input to output."""
        return self.blocks[: len(self.blocks) - self.trainable_top]

    def train(self, mode: bool = True) -> TransferLearner:
        """Like ``nn.Module.train``, but frozen blocks stay in eval mode under ``bn: freeze``; a wholly frozen
        encoder is in eval mode as a whole, so its own parameter-free parts (an audio encoder's waveform
        augmentation and SpecAugment) are off too: the head learns the features it will be scored on."""
        super().train(mode)
        if mode and self.bn == "freeze":
            for _, block in self.frozen_blocks():
                block.eval()
            if self.trainable_top == 0:
                self.encoder.eval()
        return self

    def lr_blocks(self) -> list[tuple[str, nn.Module]]:
        """Encoder blocks input to output, then the head: the groups of ``optimizer.layer_decay``."""
        return [(f"encoder.{name}", block) for name, block in self.blocks] + [("head", self.head)]

    def configure_optimizers(self, spec: Any) -> list[torch.optim.Optimizer]:
        """One optimizer over every parameter that trains now or, in ``gradual`` mode, later.

        Frozen parameters get no gradient, so the optimizer leaves them (and their decay) alone
        until they are unfrozen.
        """
        from deepfeat.optim.optimizers import build_optimizer

        from deepfeat.optim.lr_scale import scale_module_lr

        now = self.trainable_top
        self.set_trainable(len(self.blocks) if self.mode == "gradual" else self.initial_blocks)
        try:
            return [scale_module_lr(build_optimizer(spec, self), self.encoder, self.encoder_lr)]
        finally:
            self.set_trainable(now)

    # -- the learner contract ----------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        x, y = batch
        if y is None:
            raise ConfigError("learner 'transfer': the batch has no labels; use a labelled dataset.")
        with step_generator(self.augment_rng) as generator:
            logits = self(self.augment(x, generator)).float()
        loss = F.cross_entropy(logits, y, label_smoothing=self.label_smoothing)
        out = {"loss": loss, "acc": (logits.argmax(1) == y).float().mean()}
        if self.l2sp > 0 and self.trainable_top > 0:
            penalty = self.l2_sp()
            out |= {"loss": loss + self.l2sp * penalty, "l2sp": penalty.detach()}
        return out

    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Cross-entropy and accuracy on un-augmented inputs."""
        x, y = batch
        logits = self(x).float()
        return {"loss": F.cross_entropy(logits, y), "acc": (logits.argmax(1) == y).float().mean()}

    def l2_sp(self) -> torch.Tensor:
        """``sum ||w - w_pretrained||^2`` over the encoder's weight matrices and kernels (Li et al. 2018, L2-SP)."""
        anchors = dict(self.anchor.named_buffers())
        terms = [(p.float() - anchors[f"w{i}"].float()).pow(2).sum()
                 for i, (_, p) in enumerate(self.encoder.named_parameters()) if f"w{i}" in anchors]
        return torch.stack(terms).sum()

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, num_classes)``."""
        return self(x).float().softmax(1)

    # -- what changes training between steps (called by the trainer) -------------------------------
    def on_epoch_start(self, epoch: int) -> str | None:
        """The head alone for ``head_epochs`` epochs (LP-FT), then the mode's blocks; ``gradual`` adds one
        block every ``unfreeze_every`` epochs after that (Howard & Ruder 2018)."""
        before = self.trainable_top
        if epoch < self.head_epochs:
            self.set_trainable(0)
        elif self.mode == "gradual":
            self.set_trainable(self.initial_blocks + (epoch - self.head_epochs) // self.unfreeze_every)
        else:
            self.set_trainable(self.initial_blocks)
        if self.trainable_top == before:
            return None
        return f"epoch {epoch + 1}: {self.trainable_top} of {len(self.blocks)} encoder blocks trainable"

    @torch.no_grad()
    def on_fit_start(self, batches: Any, prepare: Any, autocast: Any) -> None:
        """``head_init: probe``: the head starts as the converged linear probe of the pretrained features.

        LP-FT's first stage as Kumar et al. (2022) run it: a logistic regression fitted with L-BFGS on the
        frozen encoder's features of the training data (:func:`~deepfeat.eval.probes.logistic_head`),
        its standardization written into the head's batch norm and its weights into the head's linear layer.
        A head trained by a few hundred SGD steps is far from that optimum with few labels, and a poor head
        sends large, wrong gradients into the pretrained features when everything trains. Once per run:
        a resumed run keeps its head.
        """
        if self.head_init != "probe" or bool(self.head_fitted):
            return
        from deepfeat.eval.probes import logistic_head

        was_training, feats, labels, t0 = self.training, [], [], time.perf_counter()
        self.eval()
        try:
            for x, y in batches:
                if y is None:
                    raise ConfigError("learner 'transfer': the training data has no labels; use a labelled dataset.")
                with autocast():
                    feats.append(self.encoder(prepare(x)).float())
                labels.append(y.to(feats[-1].device))
            z, y = torch.cat(feats), torch.cat(labels)
            head = logistic_head(z.cpu(), y.cpu(), self.num_classes, C=self.probe_C)
            norm, linear = self.head[0], self.head[-1].linear
            norm.running_mean.copy_(head["mean"])
            norm.running_var.copy_(head["var"])
            linear.weight.copy_(head["weight"])
            linear.bias.copy_(head["bias"])
            fit = (self.head(z).argmax(1) == y).float().mean()  # the head itself, in eval mode
        finally:
            self.train(was_training)
        self.head_fitted.fill_(True)
        log.info(f"transfer: the head starts as the linear probe of {len(y)} training samples' features "
                 f"(training accuracy {fit:.3f}, {time.perf_counter() - t0:.1f}s)")

    def on_fit_end(self, batches: Any, prepare: Any, autocast: Any) -> None:
        """After fine-tuning (best weights restored): the head's batch-norm statistics of the final features."""
        if self.mode != "linear_probe":
            self.recalibrate_head_norm(batches, prepare, autocast)

    @torch.no_grad()
    def recalibrate_head_norm(self, batches: Any, prepare: Any, autocast: Any) -> None:
        """Recompute the head's feature statistics with the final encoder over ``batches`` (precise BN).

        The running mean/variance of the head's batch norm trail the features by ~1/momentum steps;
        when fine-tuning moves the features, a short run ends with stale statistics and a shifted
        decision threshold (Wu & Johnson 2021, "Rethinking 'Batch' in BatchNorm", section 3).
        """
        norm, was_training = self.head[0], self.training
        self.eval()
        norm.reset_running_stats()
        momentum, norm.momentum = norm.momentum, None  # a cumulative average: every batch counts equally
        norm.train()
        try:
            for x, _ in batches:
                if len(x) > 1:  # batch norm cannot take statistics of one sample
                    with autocast():
                        norm(self.encoder(prepare(x)).float())
        finally:
            norm.momentum = momentum
            self.train(was_training)
