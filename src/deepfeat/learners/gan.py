"""Generative adversarial networks as ordinary learners: ``dcgan``, ``wgan_gp`` and ``mlp_gan``.

The discriminator is the configured encoder plus a linear score head, so ``embed`` gives its
penultimate features (the DCGAN paper's use of a discriminator as a feature learner) and every
evaluator works on them. The generator is a :class:`ConvGenerator` for images, an
:class:`MLPGenerator` otherwise. The alternating updates live in :meth:`GAN.update` alone; the
trainer is the usual one.

Images are generated in pixel space [0, 1] (``tanh`` mapped by ``(t + 1) / 2``) and normalized with
the data's training statistics before the discriminator sees them, exactly like real batches;
vectors are generated directly in the normalized space. :meth:`GAN.sample` returns data-space values.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from itertools import repeat
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.base import Batch, Learner, StepContext
from deepfeat.learners.build import LEARNERS
from deepfeat.learners.gan_losses import (
    LOSSES,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
)
from deepfeat.learners.inference import run_batches
from deepfeat.nn.discriminators import has_batch_norm, spectral_normalize
from deepfeat.checks import check_choice, check_positive_int
from deepfeat.nn.encoder import build_encoder
from deepfeat.nn.generators import ConvGenerator, MLPGenerator

FIXED_SEED = 1234  # the fixed noise batch is the same for every run, so grids compare across runs too


class GAN(Learner):
    """A GAN: generator ``z (B, latent_dim) -> x (B, *input_shape)``, critic ``x -> score (B,)``.

    ``embed(x) -> (B, feature_dim)`` is the critic's trunk. Options: the loss (``non_saturating``,
    ``hinge``, ``wasserstein``), ``gp_weight`` (WGAN-GP), ``n_critic`` critic steps per generator
    step, ``spectral_norm`` on the critic, ``conditional`` (one-hot class code into the generator,
    projection discriminator of Miyato & Koyama 2018) and ``ema_decay`` (an exponential moving
    average of the generator weights, used for sampling; Karras et al. 2018).
    """

    # Under torchrun the trainer wraps each player in its own DistributedDataParallel: the critic's and
    # the generator's backward passes come at different times, and each must all-reduce only its player.
    capabilities = frozenset({"generates", "tracks_samples"})
    evaluations = ("generative",)
    figures = ("gan_samples",)
    observers = ("gan_monitor",)
    headline = (("domain FID", "evaluations.generative.fid_domain"),
                ("classes covered", "evaluations.generative.classes_covered"),
                ("Inception FID", "evaluations.generative.fid_inception"),
                ("precision", "evaluations.generative.precision"), ("recall", "evaluations.generative.recall"))

    ddp_parts: ClassVar[dict[str, tuple[str, ...]] | None] = {
        "generate_batch": ("generator",), "discriminate_batch": ("encoder", "head", "class_embed")}

    def __init__(
        self,
        info: DataInfo,
        encoder: Any = "mlp",
        loss: str = "non_saturating",
        latent_dim: int = 64,
        generator: str = "auto",
        generator_channels: Sequence[int] = (128, 64),
        generator_hidden: Sequence[int] = (256, 256),
        n_critic: int = 1,
        gp_weight: float = 0.0,
        spectral_norm: bool = False,
        conditional: bool = False,
        ema_decay: float = 0.0,
        betas: tuple[float, float] = (0.5, 0.999),
        num_fixed: int = 64,
    ) -> None:
        super().__init__()
        self.info = info
        self.loss = check_choice(loss, LOSSES, "learner.loss")
        self.n_critic = check_positive_int(n_critic, "learner.n_critic")
        self.gp_weight, self.betas, self.ema_decay = float(gp_weight), tuple(betas), float(ema_decay)
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"learner.ema_decay: expected a number in [0, 1), got {ema_decay!r}. Typical: 0.999.")
        if conditional and info.num_classes < 2:
            raise ConfigError(f"learner.conditional: expected labelled data with >= 2 classes, got {info.num_classes} "
                              f"in dataset '{info.name}'. Set conditional: false or use a labelled dataset.")
        self.num_classes = info.num_classes if conditional else 0
        self.encoder = build_encoder(encoder, info.input_shape)
        if self.gp_weight > 0 and has_batch_norm(self.encoder):
            raise ConfigError("encoder.norm: expected no batch norm in a critic trained with a gradient penalty, got "
                              "batch norm (it makes each score depend on the whole batch; Gulrajani et al. 2017, "
                              "section 4). Set encoder norm: layer or none.")
        self.head = nn.Linear(self.encoder.feature_dim, 1)
        self.class_embed = nn.Embedding(self.num_classes, self.encoder.feature_dim) if self.num_classes else None
        if spectral_norm:
            spectral_normalize(self)
        self.generator = self._build_generator(generator, latent_dim, generator_channels, generator_hidden)
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False) if self.ema_decay else None
        self.latent_dim = latent_dim
        g = torch.Generator().manual_seed(FIXED_SEED)
        self.register_buffer("fixed_z", torch.randn(num_fixed, latent_dim, generator=g))
        self.register_buffer("fixed_y", torch.arange(num_fixed) % max(self.num_classes, 1))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self._last_g = torch.zeros(())

    def _build_generator(self, kind: str, latent_dim: int, channels: Sequence[int], hidden: Sequence[int]) -> nn.Module:
        kind = check_choice(kind, ("auto", "conv", "mlp"), "learner.generator")
        spatial = self.info.kind_spec.spatial
        if kind == "auto":
            kind = "conv" if spatial else "mlp"
        if kind == "conv" and not spatial:
            raise ConfigError(f"learner.generator: expected mlp for {self.info.kind} data, got conv (images only).")
        out = self.info.kind_spec.generator_output
        if kind == "conv":
            return ConvGenerator(latent_dim, self.info.input_shape, channels, output=out, num_classes=self.num_classes)
        return MLPGenerator(latent_dim, self.info.input_shape, hidden, output=out, num_classes=self.num_classes)

    # -- the two players -----------------------------------------------------------------------
    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Critic scores (logits) ``(B,)`` of normalized inputs ``x``; ``y`` is used when conditional."""
        h = self.encoder(x)
        score = self.head(h).squeeze(1)
        if self.class_embed is not None:
            score = score + (self.class_embed(self._labels(y, x.shape[0])) * h).sum(1)
        return score

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None, ema: bool = False) -> torch.Tensor:
        """Generated samples ``(B, *input_shape)`` in the normalized space the critic sees."""
        net = self.generator_ema if ema and self.generator_ema is not None else self.generator
        code = F.one_hot(self._labels(y, z.shape[0]), self.num_classes).to(z.dtype) if self.num_classes else None
        out = net(z, code)
        # A tanh generator's [-1, 1] stands for raw values in [0, 1] (pixels), normalized as the critic's inputs are.
        return self.info.normalize((out + 1) / 2) if self.info.kind_spec.generator_output == "tanh" else out

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized samples back to data space (images: pixels clamped to [0, 1])."""
        return self.info.denormalize(x)

    def generate_batch(self, zy: tuple[torch.Tensor, torch.Tensor | None]) -> torch.Tensor:
        """:meth:`generate` of a ``(z, y)`` pair: the form ``StepContext.call`` runs through DDP."""
        return self.generate(*zy)

    def discriminate_batch(self, xy: tuple[torch.Tensor, torch.Tensor | None]) -> torch.Tensor:
        """:meth:`discriminate` of an ``(x, y)`` pair: the form ``StepContext.call`` runs through DDP."""
        return self.discriminate(*xy)

    def _labels(self, y: torch.Tensor | None, n: int) -> torch.Tensor:
        if y is None:
            raise ConfigError("learner.conditional: the batch has no labels; a conditional GAN needs labelled data.")
        return y[:n]

    def _fake_labels(self, n: int, device: torch.device) -> torch.Tensor | None:
        return torch.randint(0, self.num_classes, (n,), device=device) if self.num_classes else None

    # -- training --------------------------------------------------------------------------------
    @property
    def update_intervals(self) -> tuple[int, int]:
        """Batches per step of each optimizer ``(critic, generator)``: the trainer sizes and steps each schedule by it."""
        return 1, self.n_critic

    def configure_optimizers(self, spec: Any) -> list[torch.optim.Optimizer]:
        """Two optimizers from one spec: ``[critic, generator]``; Adam/AdamW get ``betas`` unless given."""
        from deepfeat.optim.optimizers import OPTIMIZERS, build_optimizer

        name, kwargs = OPTIMIZERS.split_spec(spec, "optimizer")
        if name in ("adam", "adamw"):
            kwargs.setdefault("betas", self.betas)  # beta1 = 0.5 steadies GAN training (Radford et al. 2016)
        spec = {"name": name, **kwargs}
        critic = nn.ModuleList([m for m in (self.encoder, self.head, self.class_embed) if m is not None])
        return [build_optimizer(spec, critic), build_optimizer(spec, self.generator)]

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Both players' losses on one batch (no step); ``"loss"`` is the critic's."""
        x, y = batch
        y = y if self.num_classes else None
        z, y_fake = torch.randn(x.shape[0], self.latent_dim, device=x.device), self._fake_labels(x.shape[0], x.device)
        fake = self.generate(z, y_fake)
        real_s, fake_s = self.discriminate(x, y).float(), self.discriminate(fake, y_fake).float()
        d_loss = discriminator_loss(self.loss, real_s, fake_s)
        out = {"d_loss": d_loss, "g_loss": generator_loss(self.loss, fake_s),
               "d_real": real_s.mean(), "d_fake": fake_s.mean()}
        return {"loss": d_loss, **out}

    @torch.no_grad()
    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The players' losses on held-out data, without ``"loss"``: GAN losses do not rank checkpoints."""
        return {k: v for k, v in self.training_step(batch).items() if k != "loss"}

    def update(self, batch: Batch, optimizers: list[torch.optim.Optimizer], ctx: StepContext) -> dict[str, torch.Tensor]:
        """One critic step; every ``n_critic``-th call also one generator step (and the EMA update).

        Under DDP each forward through a wrapper arms that player's gradient all-reduce for the next
        backward, so only the forwards that a backward follows go through one: the fakes carry a graph
        on generator turns alone, and the generator step and the gradient penalty (``autograd.grad``,
        which DDP does not reduce) score through the bare critic, whose reducer is idle by then.
        """
        opt_d, opt_g = optimizers
        x, y = batch
        y = y if self.num_classes else None
        n = x.shape[0]
        y_fake = self._fake_labels(n, x.device)
        g_turn = (int(self.steps) + 1) % self.n_critic == 0
        with ctx.autocast():
            with torch.set_grad_enabled(g_turn):
                fake = ctx.call(self, "generate_batch", (torch.randn(n, self.latent_dim, device=x.device), y_fake))
            real_s = ctx.call(self, "discriminate_batch", (x, y)).float()
            fake_s = ctx.call(self, "discriminate_batch", (fake.detach(), y_fake)).float()
        d_loss = discriminator_loss(self.loss, real_s, fake_s)
        metrics = {"d_real": real_s.mean().detach(), "d_fake": fake_s.mean().detach(), "d_loss": d_loss.detach()}
        if self.gp_weight > 0:  # in float32: double backward through low precision is noisy
            gp = gradient_penalty(lambda t: self.discriminate(t, y), x, fake.float())
            d_loss = d_loss + self.gp_weight * gp
            metrics["gp"] = gp.detach()
        if self.penalty is not None:
            d_loss = d_loss + self.penalty(self.encoder)
        skipped = ctx.step(d_loss, opt_d).skipped
        self.steps += 1
        if g_turn:
            with ctx.autocast():
                g_loss = generator_loss(self.loss, self.discriminate(fake, y_fake).float())
            skipped = ctx.step(g_loss, opt_g, skip=skipped).skipped  # no generator step after a dropped critic step
            self._last_g = g_loss.detach()
            self._update_ema()
        metrics.update(loss=d_loss.detach(), g_loss=self._last_g.to(d_loss.device), skipped=skipped)
        return metrics

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.generator_ema is None:
            return
        # Warm-up (TensorFlow's ExponentialMovingAverage num_updates): early on the average follows fast.
        g_steps = int(self.steps) // self.n_critic
        decay = min(self.ema_decay, (1 + g_steps) / (10 + g_steps))
        for p_ema, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            p_ema.lerp_(p, 1.0 - decay)
        for b_ema, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            b_ema.copy_(b)

    # -- sampling --------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, labels: torch.Tensor | None = None,
               batch_size: int = 1024) -> torch.Tensor:
        """``n`` samples ``(n, *input_shape)`` in data space (EMA generator when there is one)."""
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        z = torch.randn(n, self.latent_dim, generator=g)
        if self.num_classes and labels is None:
            labels = torch.randint(0, self.num_classes, (n,), generator=g)
        return self._decode(z, labels, batch_size)

    @property
    def num_fixed(self) -> int:
        """Samples in the fixed noise batch (:meth:`fixed_samples`)."""
        return len(self.fixed_z)

    @property
    def uses_ema(self) -> bool:
        """Whether samples come from the generator's exponential moving average (``ema_decay``)."""
        return self.generator_ema is not None

    @torch.no_grad()
    def fixed_samples(self) -> torch.Tensor:
        """Samples of the fixed noise batch ``(num_fixed, *input_shape)``: comparable across epochs."""
        return self._decode(self.fixed_z, self.fixed_y if self.num_classes else None)

    @torch.no_grad()
    def interpolate(self, steps: int = 8, paths: int = 6, seed: int = 0) -> torch.Tensor:
        """Spherical interpolation between random latent pairs: ``(paths, steps, *input_shape)``.

        Slerp keeps the Gaussian latents at a typical norm along the path (White 2016).
        """
        g = torch.Generator().manual_seed(seed)
        a, b = torch.randn(paths, self.latent_dim, generator=g), torch.randn(paths, self.latent_dim, generator=g)
        omega = torch.arccos((F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum(1).clamp(-1, 1)).unsqueeze(1)
        t = torch.linspace(0, 1, steps).view(1, steps, 1)
        om, so = omega.unsqueeze(1), torch.sin(omega).unsqueeze(1).clamp_min(1e-6)
        z = (torch.sin((1 - t) * om) * a.unsqueeze(1) + torch.sin(t * om) * b.unsqueeze(1)) / so
        labels = torch.arange(paths).repeat_interleave(steps) % self.num_classes if self.num_classes else None
        return self._decode(z.reshape(-1, self.latent_dim), labels).view(paths, steps, *self.info.input_shape)

    def _decode(self, z: torch.Tensor, labels: torch.Tensor | None, batch_size: int = 1024) -> torch.Tensor:
        device = self.fixed_z.device
        batches = zip(z.split(batch_size), repeat(None) if labels is None else labels.split(batch_size))
        outs = [x.float().cpu() for x, _, _ in run_batches(
            self, batches, lambda b: self.to_data(self.generate(b[0], b[1], ema=True)),
            prepare=lambda t: t.to(device), device=device)]
        return torch.cat(outs) if outs else torch.zeros(0, *self.info.input_shape)


def _preset(name: str, description: str, **defaults: Any) -> None:
    """Register ``GAN`` under ``name`` with other defaults; config checks see the preset's signature."""
    sig = inspect.signature(GAN.__init__)
    params = [p.replace(default=defaults.get(p.name, p.default)) for p in list(sig.parameters.values())[1:]]

    def factory(info: DataInfo, encoder: Any = "mlp", **kwargs: Any) -> GAN:
        return GAN(info, encoder, **{**defaults, **kwargs})

    factory.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    factory.__annotations__ = {**GAN.__init__.__annotations__, "return": GAN}  # the capabilities it declares
    factory.__doc__ = description
    LEARNERS.add(name, factory, description=description)


_preset("dcgan", "DCGAN (Radford et al. 2016): conv generator, non-saturating loss, Adam beta1 0.5.")
_preset("wgan_gp", "WGAN-GP (Gulrajani et al. 2017): Wasserstein loss, gradient penalty 10, 5 critic steps, Adam (0.5, 0.9).",
        loss="wasserstein", gp_weight=10.0, n_critic=5, betas=(0.5, 0.9))
_preset("mlp_gan", "GAN with an MLP generator (Goodfellow et al. 2014), for vectors or small images.", generator="mlp")
