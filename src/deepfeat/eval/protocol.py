"""The evaluation protocol: chosen evaluators run on features with pinned settings, recorded with results.

``run_protocol(train_z, train_y, test_z, test_y, ["linear", "knn", "cluster", "fewshot", "health"])``
returns ``{name: {<numbers>, "settings": {...}}}``. Each result's settings hold every argument its
evaluator ran with (the pinned defaults below unless overridden), the sample counts and a
fingerprint of the arrays it read, so passing a result's settings back reproduces its numbers.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np

from deepfeat.data.checks import ArrayLike, as_numpy
from deepfeat.errors import ConfigError
from deepfeat.eval.cluster import cluster_scores
from deepfeat.eval.fewshot import fewshot_accuracy
from deepfeat.eval.health import feature_health
from deepfeat.eval.probes import EVALUATORS, knn_accuracy, linear_probe
from deepfeat.eval.retrieval import retrieval_scores
from deepfeat.registry import check_kwargs

log = logging.getLogger("deepfeat")

# Keys a result's settings record about its inputs; they are not evaluator arguments.
RECORD_KEYS = ("fingerprint", "train_samples", "eval_samples", "eval_split")
DEFAULT_PROTOCOL = ("linear_probe", "knn")
# How many positional arrays an evaluator takes for what it reads.
_ARITY = {"train+test": 4, "test": 2, "test_features": 1}


@dataclass(frozen=True)
class Protocol:
    """How one evaluator runs in the protocol: what it reads, whether it needs labels, its pinned settings."""

    fn: Callable[..., dict[str, Any]]
    reads: Literal["train+test", "test", "test_features"]
    needs_labels: bool
    defaults: dict[str, Any]
    derived: tuple[str, ...] = field(default=())  # settings the evaluator records but does not take


# The pinned defaults: written out here, not inherited from the functions, so a changed function
# default can never silently change what a protocol run means.
PROTOCOLS: dict[str, Protocol] = {
    "linear_probe": Protocol(linear_probe, "train+test", True,
                             {"C": 1.0, "max_iter": 1000, "standardize": True, "seed": 0}, ("solver",)),
    "knn": Protocol(knn_accuracy, "train+test", True, {"k": [5, 20], "metric": "cosine"}, ("vote",)),
    "cluster": Protocol(cluster_scores, "test", True,
                        {"n_clusters": None, "n_init": 10, "max_iter": 300, "l2_normalize": True, "seed": 0},
                        ("algorithm",)),
    "fewshot": Protocol(fewshot_accuracy, "train+test", True,
                        {"shots": [1, 5, 10, 50], "draws": 5, "seed": 0, "C": 1.0, "max_iter": 1000,
                         "standardize": True}, ("sampling",)),
    "health": Protocol(feature_health, "test_features", False, {"dead_threshold": 1e-6}),
    "retrieval": Protocol(retrieval_scores, "train+test", True, {"k": [1, 5, 10], "metric": "cosine"},
                          ("relevance",)),
}


def resolve_protocols(names: str | Sequence[str]) -> list[str]:
    """Canonical protocol names from ``"linear,knn"`` or ``["linear", "knn"]`` (aliases allowed)."""
    items = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    out = []
    for item in items:
        name = EVALUATORS.canonical(item, "evaluation.protocol")
        if name not in PROTOCOLS:
            raise ConfigError(
                f"protocol at evaluation.protocol: expected one of {', '.join(PROTOCOLS)} "
                f"(or linear, kmeans, few_shot, recall_at_k), got {item!r}. Pick names from that list."
            )
        if name not in out:
            out.append(name)
    return out


def check_settings(name: str, settings: Mapping[str, Any] | None, where: str = "evaluation.protocol_settings") -> dict[str, Any]:
    """The arguments protocol ``name`` runs with: pinned defaults updated by ``settings`` (type-checked).

    ``settings`` may be a recorded result's settings: the keys that only describe the inputs
    (fingerprint, sample counts) or that the evaluator derives itself are dropped.
    """
    protocol = PROTOCOLS[name]
    own = {k: v for k, v in (settings or {}).items() if k not in RECORD_KEYS + protocol.derived}
    checked = check_kwargs(protocol.fn, own, f"{where}.{name}", skip=_ARITY[protocol.reads])
    return {**protocol.defaults, **checked}


def fingerprint(*arrays: ArrayLike | None) -> str:
    """First 16 hex digits of the sha256 of the arrays (float32 features, int64 labels) and their shapes."""
    digest = hashlib.sha256()
    for a in arrays:
        if a is None:
            digest.update(b"none")
            continue
        x = as_numpy(a)
        x = np.ascontiguousarray(x, dtype=np.int64 if x.ndim == 1 else np.float32)
        digest.update(f"{x.dtype}{x.shape}".encode())
        digest.update(x.tobytes())
    return digest.hexdigest()[:16]


def run_protocol(
    train_z: ArrayLike,
    train_y: ArrayLike | None,
    test_z: ArrayLike,
    test_y: ArrayLike | None,
    protocols: str | Sequence[str] = DEFAULT_PROTOCOL,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    eval_split: str = "test",
) -> dict[str, dict[str, Any]]:
    """Run the chosen evaluators on features ``(N, D)`` and labels ``(N,)``; ``{name: result}``.

    ``settings`` maps a protocol name (or alias) to arguments that override its pinned defaults,
    e.g. ``{"knn": {"k": [10]}}``, or to a recorded result's settings to reproduce it. Protocols
    that need labels are skipped (with a log line) when the data has none.
    """
    overrides = {EVALUATORS.canonical(k, "settings"): v for k, v in (settings or {}).items()}
    # Every setting is checked before anything runs, so a typo fails at once, not minutes later.
    plan = {name: check_settings(name, overrides.get(name), "settings") for name in resolve_protocols(protocols)}
    results = {}
    for name, kwargs in plan.items():
        protocol = PROTOCOLS[name]
        if protocol.needs_labels and (train_y is None or test_y is None):
            log.info("protocol %s skipped: the data has no labels", name)
            continue
        if protocol.reads == "train+test" and train_y is not None and len(np.unique(np.asarray(train_y))) < 2:
            # One-class training (anomaly detection): a probe cannot learn from a single class.
            log.info("protocol %s skipped: the training split holds a single class", name)
            continue
        arrays = {"train+test": (train_z, train_y, test_z, test_y), "test": (test_z, test_y),
                  "test_features": (test_z,)}[protocol.reads]
        result = protocol.fn(*arrays, **kwargs)
        record = {"fingerprint": fingerprint(*arrays), "eval_split": eval_split, "eval_samples": len(test_z)}
        if protocol.reads == "train+test":
            record["train_samples"] = len(train_z)
        _warn_if_other_data(name, overrides.get(name), record["fingerprint"])
        result["settings"].update(record)
        results[name] = result
    return results


def _warn_if_other_data(name: str, recorded: Mapping[str, Any] | None, current: str) -> None:
    old = (recorded or {}).get("fingerprint")
    if old is not None and old != current:
        log.warning("protocol %s: the features differ from the recorded ones (fingerprint %s, now %s); "
                    "the numbers will differ too", name, old, current)
