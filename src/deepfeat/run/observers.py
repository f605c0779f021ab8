"""Observers a learner's run adds by name (``Learner.observers``): they watch training and never change it.

``gan_monitor`` (:class:`GANMonitor`): what a GAN run shows while it trains. Every epoch
it writes ``samples/epoch_NNN.png`` (the fixed noise batch, so epochs compare pixel for pixel); at
about ten evenly spaced epochs it refreshes the report's grid and its epoch-by-epoch strip. It
watches for the classic failures and says so in the log and in ``results.json``:

- the critic wins outright (discriminator loss near 0: no useful gradient for the generator),
- the generator loss (or the Wasserstein estimate) explodes,
- the samples stop varying (mode collapse): their mean pairwise distance falls far below the data's.

``collapse_warning`` (:class:`CollapseWarning`): a self-supervised run's warning when features collapse.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from deepfeat.data.kinds import IMAGE_GRID
from deepfeat.keys import metric_key
from deepfeat.reports.figures import save_figure
from deepfeat.reports.samples import rows_figure, samples_figure, save_image_grid
from deepfeat.run.registries import OBSERVERS, Observer

if TYPE_CHECKING:
    from deepfeat.engine.trainer import Trainer
    from deepfeat.learners.capabilities import TracksSamples

log = logging.getLogger("deepfeat")

D_LOSS_FLOOR = 0.05  # non-saturating / hinge critic loss below this: it separates real and fake perfectly
EXPLODE_FACTOR = 5.0  # generator loss (or W estimate) past 5x its first-epoch size (at least 5)
DIVERSITY_FLOOR = 0.3  # samples' mean pairwise distance below 30% of the data's: mode collapse
STRIP_ROWS, STRIP_IMAGES = 10, 8


def diversity(x: torch.Tensor) -> float:
    """Mean pairwise Euclidean distance between the rows of ``x`` (N, ...) flattened."""
    return float(torch.pdist(x.flatten(1).float()).mean()) if len(x) > 1 else 0.0


def milestones(epochs: int, count: int = STRIP_ROWS) -> set[int]:
    """About ``count`` evenly spaced epochs out of ``1..epochs``, always with the first and last."""
    n = min(count, epochs)
    return {round(1 + i * (epochs - 1) / max(n - 1, 1)) for i in range(n)}


class GANMonitor(Observer):
    """Per-epoch sample grids and mode-collapse / divergence warnings for the run of a learner that tracks samples
    (the ``tracks_samples`` capability: a GAN).

    With ``run_dir=None`` (training outside a run folder) it only checks and logs.
    """

    def __init__(self, learner: TracksSamples, run_dir: Path | None) -> None:
        self.learner, self.run_dir = learner, None if run_dir is None else Path(run_dir)
        self.images = learner.info.kind_spec.view == IMAGE_GRID and run_dir is not None  # without a run folder: checks only
        self.strip: list[tuple[int, torch.Tensor]] = []
        self.warnings: dict[str, dict[str, Any]] = {}
        self.first: float | None = None
        self.real_diversity, self.peak = 0.0, 0.0

    def on_fit_start(self, trainer: Trainer) -> None:
        x, _ = next(iter(trainer.data.train.batches(self.learner.num_fixed)))
        self.real_diversity = diversity(self.learner.to_data(x))

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        samples = self.learner.fixed_samples()
        last = epoch + 1 == trainer.planned_epochs or trainer.should_stop
        self._check(epoch + 1, logs, diversity(samples), last)
        if not self.images:
            return
        save_image_grid(samples, self.run_dir / "samples" / f"epoch_{epoch + 1:03d}.png")
        if epoch + 1 not in milestones(trainer.planned_epochs) and not last:
            return
        self.strip.append((epoch + 1, samples[:STRIP_IMAGES].clone()))
        save_figure(samples_figure(samples, f"Fixed noise, epoch {epoch + 1}"), self.run_dir, "samples",
                    title="Generated samples", section="Samples",
                    caption=f"The generator's samples of the run's fixed noise batch after epoch {epoch + 1}"
                            f"{' (EMA weights)' if self.learner.uses_ema else ''}; every "
                            "epoch's grid is in samples/.")
        rows = [(f"epoch {e}", x) for e, x in self.strip]
        save_figure(rows_figure(rows, "The same noise across training"), self.run_dir, "samples_by_epoch",
                    title="Samples across epochs", section="Samples",
                    caption="Each row: the first fixed-noise samples at one epoch. Rows that stop changing mean "
                            "the generator settled; rows that all look alike mean mode collapse.")

    def _check(self, epoch: int, logs: dict[str, float], div: float, last: bool) -> None:
        loss = self.learner.loss
        d_loss = logs.get("train/d_loss", float("nan"))
        size = logs.get("train/g_loss", float("nan"))
        if loss == "wasserstein":
            size = logs.get("train/d_real", float("nan")) - logs.get("train/d_fake", float("nan"))
        self.first = abs(size) if self.first is None else self.first
        if loss != "wasserstein" and d_loss < D_LOSS_FLOOR:
            self._warn("discriminator_wins", epoch, f"discriminator loss {d_loss:.3g} is near 0: the critic separates "
                       "real from fake perfectly and the generator gets no useful gradient. Lower the critic's learning "
                       "rate, add spectral_norm: true, or try wgan_gp.")
        if abs(size) > EXPLODE_FACTOR * max(1.0, self.first):
            what = "Wasserstein estimate" if loss == "wasserstein" else "generator loss"
            self._warn("generator_diverges", epoch, f"{what} {size:.3g} exploded (first epoch {self.first:.3g}): "
                       "training is diverging. Lower the learning rate or raise n_critic / gp_weight.")
        # A fresh generator maps all noise to nearly one image: that is not a collapse until the samples
        # had diversity and lost it, or never gained it by the end.
        floor, self.peak = DIVERSITY_FLOOR * self.real_diversity, max(self.peak, div)
        if div < floor and (self.peak >= floor or last):
            self._warn("mode_collapse", epoch, f"sample diversity {div:.3g} is {div / self.real_diversity:.0%} of the "
                       "data's: the generator produces nearly the same output for different noise (mode collapse). "
                       "Try wgan_gp, spectral_norm: true or a smaller learning rate.")

    def _warn(self, kind: str, epoch: int, message: str) -> None:
        if kind not in self.warnings:
            log.warning("GAN warning at epoch %d: %s", epoch, message)
            self.warnings[kind] = {"first_epoch": epoch, "epochs": 0, "message": message}
        self.warnings[kind]["epochs"] += 1

    def summary(self) -> dict[str, Any]:
        """The warnings for ``results.json``: ``{"count", <kind>: "epoch N (k epochs): message", "settings"}``."""
        out: dict[str, Any] = {"count": len(self.warnings)}
        for kind, w in self.warnings.items():
            out[kind] = f"from epoch {w['first_epoch']} ({w['epochs']} epochs): {w['message']}"
        out["settings"] = {"d_loss_floor": D_LOSS_FLOOR, "explode_factor": EXPLODE_FACTOR,
                           "diversity_floor": DIVERSITY_FLOOR, "real_diversity": round(self.real_diversity, 4)}
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"strip": [(e, x) for e, x in self.strip], "warnings": self.warnings, "first": self.first,
                "real_diversity": self.real_diversity, "peak": self.peak}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.strip = [(int(e), x) for e, x in state["strip"]]
        self.warnings, self.first = state["warnings"], state["first"]
        self.real_diversity, self.peak = state["real_diversity"], state["peak"]


class CollapseWarning(Observer):
    """Log a warning when an epoch's features collapse: normalized std or effective rank too low.

    Healthy features have ``feature_std`` near 1 and an effective rank well above a few; a collapsed
    encoder sends every input to one point (std -> 0) or one direction (rank -> 1).
    """

    def __init__(self, min_std: float = 0.05, min_rank: float = 2.0) -> None:
        self.min_std, self.min_rank = min_std, min_rank
        self.collapsed_epochs: list[int] = []

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        std = logs.get(metric_key("train", "feature_std"))
        rank = logs.get(metric_key("train", "effective_rank"))
        if std is None or rank is None or (std >= self.min_std and rank >= self.min_rank):
            return
        self.collapsed_epochs.append(epoch + 1)
        log.warning(
            "epoch %d: the features are collapsing (normalized std %.3g, min %.3g; effective rank %.3g, min %.3g). "
            "Try stronger augmentations, a lower learning rate or a higher temperature.",
            epoch + 1, std, self.min_std, rank, self.min_rank,
        )

    def summary(self) -> dict[str, Any] | None:
        if not self.collapsed_epochs:
            return None
        return {"collapsed_epochs": list(self.collapsed_epochs),
                "settings": {"min_feature_std": self.min_std, "min_effective_rank": self.min_rank}}

    def state_dict(self) -> dict[str, Any]:
        return {"collapsed_epochs": list(self.collapsed_epochs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.collapsed_epochs = list(state["collapsed_epochs"])


@OBSERVERS.register("gan_monitor")
def gan_monitor(learner: Any, run_dir: Path | None) -> GANMonitor:
    """Sample grids of the fixed noise per epoch; warnings on a winning critic, exploding loss, mode collapse."""
    return GANMonitor(learner, run_dir)


@OBSERVERS.register("collapse_warning")
def collapse_warning(learner: Any, run_dir: Path | None) -> CollapseWarning:
    """A warning when an epoch's features collapse (SimCLR's ``collapse_std`` / ``collapse_rank``)."""
    return CollapseWarning(learner.collapse_std, learner.collapse_rank)
