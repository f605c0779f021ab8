"""Diffusion time estimation: how much noise a sample seems to carry, the anomaly score (Livernoche, Jain, Hezaveh &
Ravanbakhsh 2024, "On Diffusion Modeling for Anomaly Detection", ICLR; DTE).

Normal samples are blurred by the forward process of a diffusion model without its drift,
``x_t = x_0 + sigma_t * eps`` with ``eps ~ N(0, I)`` and ``sigma_t^2 = 1 - prod_{s <= t} (1 - beta_s)``
(``beta`` linear from ``beta_start`` to ``beta_end`` over ``steps`` diffusion steps), and a network learns to tell
from ``x_t`` which of ``bins`` equal ranges of ``t`` it came from (DTE's categorical model: the cross-entropy of the
binned step). A clean normal sample looks unblurred; a sample away from the normal data, also beyond its range
along its own directions, looks like a normal one blurred by more noise. The score is the expected bin of the
clean sample under the network's softmax (``0`` to ``bins - 1``, higher is more anomalous). In the limit the network
recovers the posterior of the diffusion time, a function of the sample's distances to the normal training samples
at every noise scale: a kNN-like score with no bank of features to store and no ``k`` to choose.

The noise is in the data's normalized units. The defaults are the paper's (400 steps, ``beta`` from 1e-4 to 0.01:
noise standard deviations from 0.01 to 0.93; 7 bins). ``embed`` is the encoder's features of the clean sample.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from deepfeat.checks import check_positive_int, check_seed
from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.base import Batch, Learner
from deepfeat.learners.build import LEARNERS
from deepfeat.nn.encoder import build_encoder
from deepfeat.nn.heads import LinearHead


def noise_levels(steps: int, beta_start: float, beta_end: float) -> torch.Tensor:
    """``sigma_t`` ``(steps,)``: the noise standard deviation after ``t + 1`` steps of a linear ``beta`` schedule."""
    betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    return (1 - torch.cumprod(1 - betas, 0)).sqrt().float()


@LEARNERS.register("diffusion_time", aliases=("dte",))
class DiffusionTime(Learner):
    """Estimate the diffusion step of a blurred sample; ``score_samples -> (B,)``, ``embed(x) -> (B, feature_dim)``.
    Metrics: ``loss`` (cross-entropy of the binned step), ``acc`` (bin right)."""

    capabilities = frozenset({"scores"})
    evaluations = ("anomaly",)
    figures = ("anomaly_scores", "roc_curve")
    headline = (("anomaly ROC-AUC", "evaluations.anomaly.roc_auc"),
                ("anomaly average precision", "evaluations.anomaly.average_precision"))
    neighbour_metric = "euclidean"

    def __init__(self, info: DataInfo, encoder: Any = "mlp", bins: int = 7, steps: int = 400,
                 beta_start: float = 1e-4, beta_end: float = 0.01, seed: int = 0) -> None:
        super().__init__()
        if not info.kind_spec.continuous:
            raise ConfigError("learner 'diffusion_time' at learner.name: expected vectors, images or sequences, got "
                              "token ids (noise added to integer ids means nothing). Use learner: seq_autoencoder for "
                              "text.")
        self.bins = check_positive_int(bins, "learner 'diffusion_time' bins")
        if self.bins < 2:
            raise ConfigError(f"learner 'diffusion_time' bins: expected at least 2 ranges of diffusion steps to tell "
                              f"apart, got {bins!r}. The paper's is 7.")
        self.steps = check_positive_int(steps, "learner 'diffusion_time' steps")
        if self.steps < self.bins:
            raise ConfigError(f"learner 'diffusion_time' steps: expected at least one diffusion step per bin "
                              f"({self.bins}), got {steps!r}")
        for name, value in (("beta_start", beta_start), ("beta_end", beta_end)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
                raise ConfigError(f"learner 'diffusion_time' {name}: expected a number in (0, 1) (the share of "
                                  f"variance one diffusion step adds), got {value!r}")
        self.seed = check_seed(seed, "learner 'diffusion_time' seed", "the validation batches' steps and noise")
        self.register_buffer("sigmas", noise_levels(self.steps, float(beta_start), float(beta_end)), persistent=False)
        self.encoder = build_encoder(encoder, tuple(info.input_shape))
        self.head = LinearHead(self.encoder.feature_dim, self.bins)

    def _blurred_metrics(self, x: torch.Tensor, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """Blur each sample of ``x`` by a random number of steps; the loss of telling which bin of steps."""
        x = x.float()
        where = x.device if generator is None else "cpu"  # a seeded generator draws on the CPU
        t = torch.randint(0, self.steps, (len(x),), generator=generator, device=where).to(x.device)
        noise = torch.randn(x.shape, generator=generator, device=where).to(x.device)
        blurred = x + self.sigmas[t].view(-1, *([1] * (x.dim() - 1))) * noise
        logits = self.head(self.encoder(blurred)).float()
        target = t * self.bins // self.steps
        loss = F.cross_entropy(logits, target)
        return {"loss": loss, "acc": (logits.argmax(1) == target).float().mean().detach()}

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self._blurred_metrics(batch[0], None)

    @torch.no_grad()
    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The training loss under the same draws every epoch (comparable between epochs)."""
        return self._blurred_metrics(batch[0], torch.Generator().manual_seed(self.seed))

    @torch.no_grad()
    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score ``(B,)``: the expected bin of diffusion steps of the clean sample, in ``[0, bins - 1]``."""
        probs = self.head(self.encoder(x)).float().softmax(1)
        return probs @ torch.arange(self.bins, dtype=probs.dtype, device=probs.device)
