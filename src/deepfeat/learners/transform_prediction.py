"""Anomaly detection by recognizing transformations (Golan & El-Yaniv 2018, "Deep Anomaly Detection Using
Geometric Transformations", NeurIPS; Bergman & Hoshen 2020, GOAD, for tables).

A network trained on normal data only learns to tell which of a fixed set of transformations was applied to a
sample. To do that it must learn what normal samples look like upright (where a digit's stroke starts, which
way a series rises): on an anomaly it recognizes the transformations badly. The score of a sample is the mean
cross-entropy of the right answer over all its transformed copies (the paper's simplified score, section 4):
higher is more anomalous.

The transformations follow the shape of a sample:

- images ``(C, H, W)``: the paper's 72, a horizontal flip or not, a translation by a quarter of the image (or none)
  along each axis, then a rotation by 0, 90, 180 or 270 degrees (rotations by 90 and 270 need square images). The
  translations matter: a 0 or an 8 looks the same flipped or turned by 180 degrees, but not shifted.
  ``translate: false`` keeps the 8 flips and rotations (9 times less compute);
  ``transforms_per_sample: k`` trains each step on ``k`` random transformations of every sample instead of all
  72 copies (72 / k times less training compute; the score still uses all of them);
- series and waveforms ``(C, T)``: identity, time reversal, negation, a circular shift by half the length, and
  their combinations (8);
- vectors ``(D,)``: GOAD's table mode (Bergman & Hoshen 2020, :mod:`deepfeat.learners.goad`): ``count`` fixed
  random affine maps, recognized by the distance of each copy's features to the centre of each transformation's
  features rather than by a softmax head; the centres are fixed over the training rows when training ends and the
  score is ``-sum_m log P(m | T_m x)`` under that distance softmax. ``margin`` (a number) trains with GOAD's centre
  triplet loss instead of the distance softmax's cross-entropy; ``eps`` floors each probability in the score.

``embed(x)`` gives the encoder's features of the untransformed sample.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, ContextManager

import torch
import torch.nn.functional as F

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.base import Batch, Learner
from deepfeat.learners.build import LEARNERS
from deepfeat.learners.goad import GoadTables
from deepfeat.learners.inference import evaluating
from deepfeat.learners.step_rng import step_generator
from deepfeat.checks import check_positive_int
from deepfeat.nn.encoder import build_encoder
from deepfeat.nn.heads import LinearHead

Transform = Callable[[torch.Tensor], torch.Tensor]


def translate(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``x (B, C, H, W)`` shifted by ``dy`` rows and ``dx`` columns, the uncovered border filled by reflection."""
    if dy == dx == 0:
        return x
    py, px = abs(dy), abs(dx)
    padded = F.pad(x, (px, px, py, py), mode="reflect")
    h, w = x.shape[-2:]
    return padded[..., py - dy: py - dy + h, px - dx: px - dx + w]


def image_transforms(height: int, width: int, shift: int = 0) -> list[Transform]:
    """Horizontal flip x translation by ``{0, -shift, +shift}`` on each axis x rotation by 90-degree turns, for
    ``(B, C, H, W)``: 72 (the paper's set), 8 with ``shift`` 0; half the turns for images that are not square."""
    turns = (0, 1, 2, 3) if height == width else (0, 2)
    moves = (0, -shift, shift) if shift else (0,)
    return [lambda x, f=f, dy=dy, dx=dx, k=k: torch.rot90(translate(x.flip(-1) if f else x, dy, dx), k, (-2, -1))
            for f in (False, True) for dy in moves for dx in moves for k in turns]


def series_transforms() -> list[Transform]:
    """Identity, reversal, negation, half-length circular shift and their combinations, for ``(B, C, T)``."""
    def make(rev: bool, neg: bool, shift: bool) -> Transform:
        def t(x: torch.Tensor) -> torch.Tensor:
            x = x.flip(-1) if rev else x
            x = torch.roll(x, x.shape[-1] // 2, -1) if shift else x
            return -x if neg else x
        return t
    return [make(*flags) for flags in itertools.product((False, True), repeat=3)]


@LEARNERS.register("transform_prediction", aliases=("geometric_transformations",))
class TransformPrediction(Learner):
    """Classify which transformation was applied; ``score_samples -> (B,)``, ``embed(x) -> (B, feature_dim)``."""

    capabilities = frozenset({"scores"})
    evaluations = ("anomaly",)
    figures = ("anomaly_scores", "roc_curve")
    headline = (("anomaly ROC-AUC", "evaluations.anomaly.roc_auc"),
                ("anomaly average precision", "evaluations.anomaly.average_precision"))

    def __init__(self, info: DataInfo, encoder: Any = "cnn", translate: bool = True,
                 count: int = 64,  # rows: random affine maps (8 -> 64: 0.956 -> 0.974 on a development table)
                 seed: int = 0,  # rows: the seed of the maps
                 margin: float | None = None,  # rows: null, distance softmax cross-entropy; a number, triplet loss
                 eps: float = 0.0,  # rows: the floor of each transformation's probability in the score
                 transforms_per_sample: int | None = None) -> None:  # images, series: random copies per training step
        super().__init__()
        shape = tuple(info.input_shape)
        if not info.kind_spec.continuous or len(shape) not in (1, 2, 3):
            raise ConfigError(f"learner 'transform_prediction' at learner.name: expected vectors, series or images, got "
                              f"{info.kind} samples of shape {shape}. Use learner: seq_autoencoder for text.")
        self.encoder = build_encoder(encoder, shape)
        self.transforms: list[Transform] = []
        self.tables: GoadTables | None = None
        if len(shape) == 3:
            self.transforms = image_transforms(shape[1], shape[2], max(1, min(shape[1:]) // 4) if translate else 0)
        elif len(shape) == 2:
            self.transforms = series_transforms()
        else:
            count = check_positive_int(count, "learner 'transform_prediction' count")
            self.tables = GoadTables(shape[0], count, self.encoder.feature_dim, seed, margin, eps)
        self.count = len(self.transforms) if self.tables is None else count
        self.head = LinearHead(self.encoder.feature_dim, self.count) if self.tables is None else None
        self.per_sample = self._check_per_sample(transforms_per_sample)
        self.seed = seed
        if self.per_sample is not None:  # the training steps' draws, saved with the weights
            self.register_buffer("pick_rng", torch.Generator().manual_seed(seed).get_state())

    def _check_per_sample(self, k: int | None) -> int | None:
        """``transforms_per_sample``: ``None`` (all, the paper's training) or 1 to ``count``, for images and series
        (GOAD's rows train on every map: a batch's centres need all of them)."""
        if k is None:
            return None
        if self.tables is not None:
            raise ConfigError(f"learner 'transform_prediction' at learner.transforms_per_sample: expected it on images or "
                              f"series only, got {k!r} for rows. Leave it out: rows train on all {self.count} maps.")
        k = check_positive_int(k, "learner 'transform_prediction' transforms_per_sample")
        if k > self.count:
            raise ConfigError(f"learner 'transform_prediction' at learner.transforms_per_sample: expected at most the "
                              f"{self.count} transformations, got {k}. Lower it, or leave it out to train on all of them.")
        return k

    def transformed(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The ``count`` transformed copies of ``x (B, ...)``, each ``(B, ...)``, in the order of the classes."""
        if self.tables is not None:
            return self.tables.transformed(x)
        return [t(x) for t in self.transforms]

    def _copy_features(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``(M, B, feature_dim)`` of the ``M`` transformed copies of rows ``x (B, D)``."""
        return self.encoder(torch.cat(self.transformed(x))).view(self.count, len(x), -1)

    def _logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(M * B, M)`` of all ``M`` transformed copies of ``x (B, ...)`` and the right answers ``(M * B,)``."""
        copies = torch.cat(self.transformed(x))
        target = torch.arange(self.count, device=x.device).repeat_interleave(len(x))
        return self.head(self.encoder(copies)).float(), target

    def _picked_logits(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(k * B, M)`` of ``k`` distinct random transformations of each sample of ``x (B, ...)`` and the
        right answers ``(k * B,)``: the task of :meth:`_logits` on a random ``k / M`` of its copies."""
        draws = torch.rand(len(x), self.count, generator=generator).argsort(1)[:, : self.per_sample]
        target = draws.T.reshape(-1).to(x.device)  # copy j of sample b at j * B + b
        source = x.repeat(self.per_sample, *([1] * (x.dim() - 1)))
        copies = torch.empty_like(source)
        for i in target.unique().tolist():
            rows = (target == i).nonzero().squeeze(1)
            copies[rows] = self.transforms[i](source[rows])
        return self.head(self.encoder(copies)).float(), target

    def _step(self, x: torch.Tensor, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        if self.tables is not None:
            return self.tables.loss(self._copy_features(x))
        logits, target = self._logits(x) if generator is None else self._picked_logits(x, generator)
        loss = F.cross_entropy(logits, target)
        return {"loss": loss, "acc": (logits.argmax(1) == target).float().mean().detach()}

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        if self.per_sample is None:
            return self._step(batch[0], None)
        with step_generator(self.pick_rng) as generator:  # a resumed run draws what an uninterrupted one drew
            return self._step(batch[0], generator)

    @torch.no_grad()
    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The training step's metrics; with ``transforms_per_sample``, the same draws every epoch (comparable)."""
        return self._step(batch[0], None if self.per_sample is None else torch.Generator().manual_seed(self.seed + 1))

    def on_fit_end(self, batches: Any, prepare: Callable[[torch.Tensor], torch.Tensor],
                   autocast: Callable[[], ContextManager[Any]]) -> None:
        """Rows: the centres of each transformation's features over the training rows, from the final weights."""
        if self.tables is None:
            return
        with evaluating(self):
            self.tables.fill(self._copy_features, batches, prepare, autocast)

    @torch.no_grad()
    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score ``(B,)``: images and series, the mean over the transformations of the cross-entropy of the
        right one (one transformation of the batch at a time); rows, ``-sum_m log P(m | T_m x)`` under the distance softmax to the training centres."""
        if self.tables is not None:
            return self.tables.score(self._copy_features(x))
        total = torch.zeros(len(x), device=x.device)
        for i in range(self.count):  # one transformation of the batch at a time: memory of B copies, not M * B
            logits = self.head(self.encoder(self.transforms[i](x))).float()
            total += F.cross_entropy(logits, torch.full((len(x),), i, device=x.device), reduction="none")
        return total / self.count
