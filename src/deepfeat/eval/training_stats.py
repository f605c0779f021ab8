"""What training diagnostics record, as plain data: the settings, the per-layer statistics, the verdicts.

The engine's :class:`~deepfeat.engine.diagnostics.Diagnostics` callback fills :class:`TrainingStats`;
:func:`deepfeat.eval.diagnose.diagnose` turns it into :class:`Finding` verdicts; the reports plot it.
Kept here, below all three, so none of them imports another.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from deepfeat.schema import check_ranges, key


@dataclass
class DiagnosticsConfig:
    """The ``diagnostics:`` section: opt-in layer statistics, the pre-flight check and verdict thresholds."""

    enabled: bool = key(False, help="record per-layer statistics while training and give verdicts with remedies")
    every_n_steps: int = key(50, ge=1, help="sample the layer statistics every this many steps")
    window: int = key(5, ge=1, help="sampled batches a ReLU unit must stay silent on to count as dead")
    preflight: bool = key(True, help="check the initial model on one batch before training")
    lr_check: bool = key(False, help="a quick LR range test before training (on a copy of the model)")
    dead_share: float = key(0.4, gt=0, le=1, help="report a layer when this share of its ReLU units is dead")
    saturated_share: float = key(0.3, gt=0, le=1, help="report a layer when this share of its tanh/sigmoid units is "
                                                       "saturated")
    vanishing_ratio: float = key(1e-4, gt=0, help="first/last layer gradient-norm ratio below which gradients are "
                                                  "reported vanishing")
    exploding_ratio: float = key(1e4, gt=0, help="first/last layer gradient-norm ratio above which gradients are "
                                                 "reported exploding")
    signal_ratio: float = key(0.01, gt=0, help="last/first layer spread of activations below which the signal is "
                                               "reported lost")
    update_ratio: float = key(0.1, gt=0, help="update/weight norm ratio above which steps are reported too large")
    spike_factor: float = key(3.0, gt=1, help="a loss this many times its running median is reported as a spike")
    overfit_rise: float = key(0.2, gt=0, help="validation loss this fraction above its best while training loss "
                                              "falls: overfitting")

    def __post_init__(self) -> None:
        check_ranges(self, "diagnostics")


@dataclass(frozen=True)
class Finding:
    """One verdict: where, the evidence in numbers, the likely cause and what to change."""

    kind: str
    severity: Literal["warning", "info"]
    layer: str | None
    evidence: str
    cause: str
    remedy: str

    def __str__(self) -> str:
        where = f"{self.layer}: " if self.layer else ""
        return f"{where}{self.evidence} ({self.cause}): {self.remedy}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": str(self)}


@dataclass(frozen=True)
class LayerInfo:
    """A watched layer: its depth (1 = first weight layer), module path and following activation."""

    index: int
    name: str
    activation: str | None = None
    family: str | None = None  # "relu", "saturating", "selu", "linear" (see activation_family)

    @property
    def label(self) -> str:
        act = f", {self.activation}" if self.activation else ""
        return f"layer {self.index} ({self.name}{act})"


@dataclass
class TrainingStats:
    """What :class:`Diagnostics` collected, as plain data: layers, sampled steps, step losses, epochs.

    ``samples`` holds one entry per sampled step: ``{"step", "epoch", "layers": [per-layer dict]}``
    aligned with ``layers``; each per-layer dict has ``grad_norm``, ``update_ratio`` and, where an
    activation follows, ``mean``, ``std``, ``sample_std``, ``dead`` or ``saturated``, ``finite``.
    """

    layers: list[LayerInfo] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    steps_per_epoch: int = 0
    skipped_steps: int = 0
    context: dict[str, Any] = field(default_factory=dict)
    first_values: dict[int, np.ndarray] = field(default_factory=dict)
    last_values: dict[int, np.ndarray] = field(default_factory=dict)
