"""Several anomaly detectors trained side by side, scored by the sum of their standardized scores.

Detectors that look at data differently fail on different anomalies: on one-class MNIST, an autoencoder trained on
8s reconstructs most other digits well (an 8's strokes cover them), while the kNN distance in VICReg features tells
them apart; the autoencoder does better on 5s. Summing their scores keeps a sample that either finds odd. Raw scores
live on unrelated scales (a distance, a squared error), so each is standardized first: minus its mean, over its
standard deviation, both over the normal training data once training ends. In a ranking the means cancel; the
deviations weigh each detector by how much it varies on normal data, so none dominates by its units alone (z-score
fusion; Aggarwal & Sathe 2015, "Theoretical Foundations and Algorithms for Outlier Ensembles"). The training data
is what a learner has without holding data out: a kNN member's training scores include each sample's zero distance
to itself, so its deviation there is smaller and its weight larger than held-out data would give.

``members`` are learner specs, each a detector (a learner that declares ``scores``), each with its own ``encoder``
key or the config's encoder. They train on the same batches with one optimizer, on the sum of their losses, and get
the trainer's hooks in turn (Deep SVDD's center, a kNN variant's feature bank). ``embed(x)`` is the first member's.
"""

from __future__ import annotations

from typing import Any, Callable, ContextManager

import torch
from torch import nn

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.base import Batch, Learner
from deepfeat.learners.build import LEARNERS, build_learner
from deepfeat.learners.inference import run_batches

STATISTICS_SAMPLES = 2048  # normal training samples the means and deviations are taken over: plenty for two moments


@LEARNERS.register("score_ensemble", aliases=("score_sum",))
class ScoreEnsemble(Learner):
    """Detectors ``members`` trained together; ``score_samples -> (B,)`` sums their standardized scores."""

    capabilities = frozenset({"scores"})
    evaluations = ("anomaly",)
    figures = ("anomaly_scores", "roc_curve")
    headline = (("anomaly ROC-AUC", "evaluations.anomaly.roc_auc"),
                ("anomaly average precision", "evaluations.anomaly.average_precision"))

    def __init__(self, info: DataInfo, encoder: Any = "mlp", members: Any = ("transform_prediction", "autoencoder")) -> None:
        super().__init__()
        if not isinstance(members, (list, tuple)) or len(members) < 2:
            raise ConfigError(f"learner 'score_ensemble' at learner.members: expected a list of two or more detector "
                              f"specs, got {members!r}. List them, e.g. [{{name: transform_prediction}}, "
                              "{name: autoencoder}].")
        self.members = nn.ModuleList(self._member(spec, info, encoder, i) for i, spec in enumerate(members))
        self.encoder = self.members[0].encoder
        self.register_buffer("center", torch.zeros(len(self.members)))
        self.register_buffer("spread", torch.ones(len(self.members)))

    @staticmethod
    def _member(spec: Any, info: DataInfo, encoder: Any, i: int) -> Learner:
        """Member ``i`` from its spec; its ``encoder`` key, if any, replaces the config's encoder."""
        spec = dict(spec) if isinstance(spec, dict) else {"name": spec}
        learner = build_learner(spec, info, spec.pop("encoder", encoder))
        if not learner.can("scores"):
            raise ConfigError(f"learner 'score_ensemble' at learner.members[{i}]: expected a detector (a learner that "
                              f"scores anomalies), got {spec.get('name')!r}. Use e.g. autoencoder, deep_svdd, "
                              "transform_prediction or vicreg_knn.")
        return learner

    def _combine(self, outs: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """The members' losses summed (``loss``) and each member's loss (``loss_<i>``)."""
        metrics = {f"loss_{i}": out["loss"].detach() for i, out in enumerate(outs)}
        return {"loss": torch.stack([out["loss"].float() for out in outs]).sum(), **metrics}

    def training_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self._combine([member.training_step(batch) for member in self.members])

    @torch.no_grad()
    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self._combine([member.validation_step(batch) for member in self.members])

    def on_epoch_start(self, epoch: int) -> str | None:
        said = [member.on_epoch_start(epoch) for member in self.members]
        return "; ".join(s for s in said if s) or None

    def on_fit_start(self, batches: Any, prepare: Callable[[torch.Tensor], torch.Tensor],
                     autocast: Callable[[], ContextManager[Any]]) -> None:
        for member in self.members:
            member.on_fit_start(batches, prepare, autocast)

    @torch.no_grad()
    def on_fit_end(self, batches: Any, prepare: Callable[[torch.Tensor], torch.Tensor],
                   autocast: Callable[[], ContextManager[Any]]) -> None:
        """The members' own hooks, then each member's score mean and deviation over the normal training data (its
        first :data:`STATISTICS_SAMPLES` samples: scoring costs a detector like transformation prediction many passes)."""
        for member in self.members:
            member.on_fit_end(batches, prepare, autocast)
        scores = torch.cat([out for out, _, _ in run_batches(self, batches, self._member_scores, prepare=prepare,
                                                            autocast=autocast, limit=STATISTICS_SAMPLES)])
        self.center.copy_(scores.mean(0))
        self.spread.copy_(scores.std(0).clamp_min(1e-12))

    def _member_scores(self, batch: Batch) -> torch.Tensor:
        """Each member's raw score of the batch's samples, ``(B, members)``."""
        return torch.stack([member.score_samples(batch[0]).float() for member in self.members], 1)

    @torch.no_grad()
    def score_samples(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score ``(B,)``: the sum over members of (score - training mean) / training deviation."""
        return ((self._member_scores((x, None)) - self.center) / self.spread).sum(1)
