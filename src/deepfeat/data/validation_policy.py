"""The small-data validation policy: when a validation split is carved, and what picks the kept epoch.

One rule, applied in two places that both read it from here:

1. **Carving** (data loading). ``val_fraction: null`` (the default, "auto") holds out 10% for validation
   only when that split would hold at least :data:`MIN_VAL_SAMPLES` samples; below that (about 300
   samples to split, e.g. every small UCR problem) nothing is held out and training uses all of it.
   An explicit ``val_fraction`` is always obeyed.
2. **Monitoring** (training). Without validation data a ``val/...`` monitor cannot pick an epoch: the run
   trains its fixed schedule on everything and keeps the **last** epoch (``restore_best`` is turned
   off, early stopping watches the training metric), and says so. With a validation split smaller
   than :data:`MIN_VAL_SAMPLES`, the best epoch is still restored if asked, with a warning that it is
   picked on a handful of samples.

Why: on a problem with 36 training series, a 20% split keeps 7; the epoch that scores best on 7
series is mostly noise (a measured 62% test accuracy for it against 84% for the fixed schedule
on all 36). Choosing epochs needs enough validation samples to rank them.

3. **Schedule** (training). ``training.epochs`` / ``batch_size`` left out (``null``, auto) are picked from the
   training split's size by :func:`plan_schedule`: batches of ``min(AUTO_BATCH, n)`` and enough epochs for
   about :data:`TARGET_STEPS` updates, between :data:`MIN_EPOCHS` and :data:`MAX_EPOCHS`. Given values are
   always obeyed. Why: a fixed 10 epochs is 100 updates on 1,400 samples (scikit-learn's digits: 93% where
   ``MLPClassifier``, with its 200 epochs of batch 200, reaches 98%) but 4,700 on MNIST. Like scikit-learn's
   ``batch_size=min(200, n)`` and iteration budget, the budget is in updates, so it fits a few hundred
   samples as well as millions (where the epoch floor, the former fixed default, rules).
"""

from __future__ import annotations

from dataclasses import dataclass

# Below this many validation samples an accuracy moves by >= 3 points per sample: too coarse to rank epochs.
MIN_VAL_SAMPLES = 30
AUTO_VAL_FRACTION = 0.1
# The auto schedule's constants, chosen on validation splits of small sets (benchmarks/bench_small_defaults.py --tune).
AUTO_BATCH = 128
TARGET_STEPS = 3000
MIN_EPOCHS = 10
MAX_EPOCHS = 500


def resolve_val_fraction(val_fraction: float | None, n: int) -> float:
    """The validation fraction to carve from ``n`` samples: ``val_fraction``, or for ``None`` (auto)
    :data:`AUTO_VAL_FRACTION` when it yields >= :data:`MIN_VAL_SAMPLES` samples, else 0."""
    if val_fraction is not None:
        return val_fraction
    return AUTO_VAL_FRACTION if round(AUTO_VAL_FRACTION * n) >= MIN_VAL_SAMPLES else 0.0


@dataclass(frozen=True)
class MonitorPlan:
    """What picks the kept epoch: the metric to monitor, whether to restore its best epoch, and the
    message to print (``None`` when the configuration is used as given)."""

    monitor: str
    restore_best: bool
    message: str | None = None


def plan_monitor(monitor: str, restore_best: bool, val_size: int | None) -> MonitorPlan:
    """Apply the monitoring half of the policy to ``training.monitor`` / ``restore_best`` given the
    validation split's size (``None``: no validation split)."""
    split, _, metric = monitor.partition("/")
    if val_size is None and split == "val":
        fallback = f"train/{metric}"
        kept = "the last epoch (fixed schedule)" if restore_best else "the last epoch"
        return MonitorPlan(fallback, False, (
            f"no validation split: training.monitor {monitor} is read as {fallback} (for early stopping and "
            f"best.pt) and the run keeps {kept}. Set data.val_fraction (>= {MIN_VAL_SAMPLES} samples) to pick "
            "epochs on held-out data."))
    if val_size is not None and val_size < MIN_VAL_SAMPLES and split == "val" and restore_best:
        return MonitorPlan(monitor, True, (
            f"the best epoch by {monitor} will be picked on {val_size} validation samples (fewer than "
            f"{MIN_VAL_SAMPLES}: mostly noise). Consider data.val_fraction: null (train on all, keep the last "
            "epoch) or training.restore_best: false."))
    return MonitorPlan(monitor, restore_best)


@dataclass(frozen=True)
class SchedulePlan:
    """The epochs and batch size a run trains with, and the line that says how auto values were picked
    (``None`` when both were given)."""

    epochs: int
    batch_size: int
    message: str | None = None


def plan_schedule(epochs: int | None, batch_size: int | None, n_train: int) -> SchedulePlan:
    """Apply the schedule half of the policy to ``training.epochs`` / ``batch_size`` (``None``: auto) for a
    training split of ``n_train`` samples."""
    batch = batch_size if batch_size is not None else max(min(AUTO_BATCH, n_train), 1)
    if epochs is not None:
        return SchedulePlan(epochs, batch, None if batch_size is not None else
                            f"training.batch_size auto: {batch} ({n_train:,} samples)")
    per_epoch = max(-(-n_train // batch), 1)
    picked = min(max(-(-TARGET_STEPS // per_epoch), MIN_EPOCHS), MAX_EPOCHS)
    return SchedulePlan(picked, batch, f"training.epochs auto: {picked} (about {picked * per_epoch:,} steps of batch "
                                       f"{batch}{'' if batch_size is not None else ' (auto)'} on {n_train:,} samples)")
