"""``ssl_health``: the health of a non-contrastive self-supervised run, in the log and in ``results.json``.

A VICReg-style loss can look fine while the features collapse: the variance hinge loses to the invariance term
and every dimension's std falls towards 0, or the dimensions stay spread but all say the same thing (a low
effective rank). Every epoch this observer reads the training means of ``feature_std`` and ``effective_rank``
(of the encoder's features), ``embedding_std`` (of the expanded embedding; the variance term's target is 1) and
the loss terms, warns when one falls below the learner's floor (``collapse_std``, ``collapse_rank``,
``min_embedding_std``), and leaves the last epoch's values and the epochs that collapsed for the report.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from deepfeat.keys import metric_key
from deepfeat.run.registries import OBSERVERS, Observer

log = logging.getLogger("deepfeat")

TERMS = ("invariance", "variance", "covariance")


class SSLHealth(Observer):
    """Warn when an epoch's features or embeddings collapse; summarize the last epoch's health terms."""

    def __init__(self, min_std: float, min_rank: float, min_embedding_std: float) -> None:
        self.floors = {"feature_std": min_std, "effective_rank": min_rank, "embedding_std": min_embedding_std}
        self.collapsed_epochs: list[int] = []
        self.last: dict[str, float] = {}

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        seen = {name: logs[key] for name in (*self.floors, *TERMS) if (key := metric_key("train", name)) in logs}
        if not seen:
            return
        self.last = {"epoch": epoch + 1, **{k: round(float(v), 4) for k, v in seen.items()}}
        low = [f"{name} {seen[name]:.3g} (min {floor:.3g})" for name, floor in self.floors.items()
               if name in seen and seen[name] < floor]
        if not low:
            return
        self.collapsed_epochs.append(epoch + 1)
        log.warning("epoch %d: the features are collapsing: %s. Try a larger variance weight, stronger augmentations "
                    "or a lower learning rate.", epoch + 1, "; ".join(low))

    def summary(self) -> dict[str, Any] | None:
        if not self.last:
            return None
        return {"collapsed": bool(self.collapsed_epochs), "collapsed_epochs": list(self.collapsed_epochs),
                "last_epoch": dict(self.last), "settings": {f"min_{k}": v for k, v in self.floors.items()}}

    def state_dict(self) -> dict[str, Any]:
        return {"collapsed_epochs": list(self.collapsed_epochs), "last": dict(self.last)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.collapsed_epochs, self.last = list(state["collapsed_epochs"]), dict(state["last"])


@OBSERVERS.register("ssl_health")
def ssl_health(learner: Any, run_dir: Path | None) -> SSLHealth:
    """Collapse warnings and the last epoch's health terms (``collapse_std``, ``collapse_rank``, ``min_embedding_std``)."""
    return SSLHealth(learner.collapse_std, learner.collapse_rank, learner.min_embedding_std)
