"""What training diagnostics record, as plain data: the settings, the per-layer statistics, the verdicts.

The engine's :class:`~deepfeat.engine.diagnostics.Diagnostics` callback fills :class:`TrainingStats`;
:func:`deepfeat.eval.diagnose.diagnose` turns it into :class:`Finding` verdicts; the reports plot it.
Kept here, below all three, so none of them imports another.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from deepfeat.errors import ConfigError


@dataclass
class DiagnosticsConfig:
    """The ``diagnostics:`` section: opt-in layer statistics, the pre-flight check and verdict thresholds."""

    enabled: bool = False
    every_n_steps: int = 50
    window: int = 5  # sampled batches a ReLU unit must stay silent on to count as dead
    preflight: bool = True
    lr_check: bool = False  # a quick LR range test before training (on a copy of the model)
    dead_share: float = 0.4
    saturated_share: float = 0.3
    vanishing_ratio: float = 1e-4
    exploding_ratio: float = 1e4
    signal_ratio: float = 0.01
    update_ratio: float = 0.1
    spike_factor: float = 3.0
    overfit_rise: float = 0.2

    def __post_init__(self) -> None:
        for name in ("every_n_steps", "window"):
            if getattr(self, name) < 1:
                raise ConfigError(f"diagnostics.{name}: expected an integer >= 1, got {getattr(self, name)}")
        for name in ("dead_share", "saturated_share"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ConfigError(f"diagnostics.{name}: expected a share in (0, 1], got {getattr(self, name)}")


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
