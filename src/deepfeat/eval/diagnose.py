"""Verdicts from training statistics: each finding names the layer, the numbers, the cause and a remedy.

Pure functions of what :class:`deepfeat.engine.diagnostics.Diagnostics` collected (plain data), so
they can be tested on hand-made statistics. Thresholds come from the ``diagnostics:`` config section.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from deepfeat.eval.training_stats import DiagnosticsConfig, Finding, TrainingStats

Check = Callable[[TrainingStats, DiagnosticsConfig], list[Finding]]
SPIKE_WINDOW = 20  # steps in the running median a loss spike is measured against


def layer_series(stats: TrainingStats, key: str) -> np.ndarray:
    """``(sampled steps, layers)`` array of one per-layer statistic, nan where it was not measured."""
    return np.array([[float(rec.get(key, np.nan)) for rec in s["layers"]] for s in stats.samples], dtype=float)


def _lr(ctx: dict[str, Any]) -> str:
    return f"{ctx.get('optimizer', 'optimizer')} lr {ctx['lr']:.3g}" if ctx.get("lr") is not None else "this lr"


def _setup(ctx: dict[str, Any]) -> str:
    """``"relu, he_normal init, sgd lr 0.5"``: the settings a cause cites."""
    parts = [ctx.get("activation"), f"{ctx['weight_init']} init" if ctx.get("weight_init") else None, _lr(ctx)]
    return ", ".join(p for p in parts if p)


def _since(values: np.ndarray, threshold: float, stats: TrainingStats) -> int:
    """The epoch since which ``values`` (one per sampled step) have stayed at or above ``threshold``."""
    start = len(values)
    while start > 0 and values[start - 1] >= threshold:
        start -= 1
    return int(stats.samples[start]["epoch"]) if start < len(values) else int(stats.samples[-1]["epoch"])


def dead_units(stats: TrainingStats, cfg: DiagnosticsConfig) -> list[Finding]:
    """ReLU-family layers whose units stayed silent on every one of the last ``window`` sampled batches."""
    dead = layer_series(stats, "dead")
    relu = [i for i, layer in enumerate(stats.layers) if layer.family == "relu"]
    if not len(dead) or not relu:
        return []
    bad = [i for i in relu if dead[-1, i] >= cfg.dead_share]
    if not bad:
        return []
    worst = max(bad, key=lambda i: dead[-1, i])
    layer, ctx = stats.layers[worst], stats.context
    evidence = f"{dead[-1, worst]:.0%} of {layer.activation} units dead since epoch {_since(dead[:, worst], cfg.dead_share, stats)}"
    if len(bad) > 1:
        evidence += f"; {len(bad)} of {len(relu)} {layer.activation} layers have >= {cfg.dead_share:.0%} dead units"
    lr = ctx.get("lr")
    lower = f"lower lr to <= {lr / 10:.2g}" if lr else "lower the learning rate"
    alternative = "add norm: batch" if layer.activation == "leaky_relu" else "use leaky_relu"
    return [Finding("dead_units", "warning", layer.label, evidence,
                    _setup(ctx),
                    f"{lower} or {alternative}")]


def saturation(stats: TrainingStats, cfg: DiagnosticsConfig) -> list[Finding]:
    """Sigmoid/tanh layers whose outputs sit within 1% of their asymptotes, where the derivative is ~0."""
    sat = layer_series(stats, "saturated")
    if not len(sat):
        return []
    cols = [i for i, layer in enumerate(stats.layers) if layer.activation in ("sigmoid", "tanh")]
    recent = {i: float(np.nanmean(sat[len(sat) // 2:, i])) for i in cols}  # the recent half: where training ended
    bad = [i for i, v in recent.items() if v >= cfg.saturated_share]
    if not bad:
        return []
    worst = max(bad, key=lambda i: recent[i])
    layer = stats.layers[worst]
    evidence = f"{recent[worst]:.0%} of {layer.activation} outputs saturated (within 1% of the asymptotes)"
    if len(bad) > 1:
        evidence += f"; {len(bad)} of {len(cols)} layers above {cfg.saturated_share:.0%}"
    return [Finding("saturation", "warning", layer.label, evidence,
                    f"{_setup(stats.context)}: pre-activations so large the derivative is ~0",
                    "use weight_init: auto (Xavier with the activation's gain), add norm: batch, or use relu/gelu")]


def gradient_flow(stats: TrainingStats, cfg: DiagnosticsConfig) -> list[Finding]:
    """Vanishing or exploding gradients: the first layer's gradient norm against the last layer's."""
    grads = layer_series(stats, "grad_norm")
    if grads.ndim != 2 or grads.shape[1] < 2:
        return []
    ok = np.isfinite(grads[:, 0]) & np.isfinite(grads[:, -1]) & (grads[:, -1] > 0)
    if not ok.any():
        return []
    first, last = float(np.median(grads[ok, 0])), float(np.median(grads[ok, -1]))
    ratio = first / last
    depth, ctx = len(stats.layers), stats.context
    cause = f"{depth} layers of {ctx.get('activation', 'this activation')}, {ctx.get('weight_init', 'this')} init"
    evidence = (f"gradient norm {first:.2g} at layer 1 vs {last:.2g} at layer {depth} "
                f"(ratio {ratio:.1g}, median of {int(ok.sum())} sampled steps)")
    if ratio < cfg.vanishing_ratio:
        return [Finding("vanishing_gradients", "warning", stats.layers[0].label, evidence + ": the first layers barely learn",
                        cause, "use relu/gelu with weight_init: auto, add norm: batch, or use fewer layers")]
    if ratio > cfg.exploding_ratio:
        return [Finding("exploding_gradients", "warning", stats.layers[0].label, evidence, cause,
                        "use weight_init: auto, add norm: batch, or set training.grad_clip: 1.0")]
    return []


def signal(stats: TrainingStats, cfg: DiagnosticsConfig) -> list[Finding]:
    """Activations that stop depending on the input with depth (their spread across samples collapses)."""
    spread = layer_series(stats, "sample_std")
    cols = [i for i in range(spread.shape[-1]) if np.isfinite(spread[:, i]).any()] if spread.ndim == 2 else []
    if len(cols) < 3:
        return []
    first, last = np.nanmedian(spread[:, cols[0]]), np.nanmedian(spread[:, cols[-1]])
    if first <= 0 or last / first >= cfg.signal_ratio:
        return []
    layer = stats.layers[cols[-1]]
    return [Finding("signal_vanishes", "warning", layer.label,
                    f"the activations' spread across samples falls from {first:.2g} at layer {cols[0] + 1} to {last:.2g} "
                    f"({last / first:.1g}x): the deep layers output nearly the same for every input",
                    f"{_setup(stats.context)}, {len(stats.layers)} layers",
                    "use weight_init: auto, add norm: batch (or layer), or use fewer layers")]


def update_size(stats: TrainingStats, cfg: DiagnosticsConfig) -> list[Finding]:
    """Steps that change a layer's weights by more than ``update_ratio`` of their norm (median over samples)."""
    ratios = layer_series(stats, "update_ratio")
    if not len(ratios):
        return []
    finite = np.isfinite(ratios)
    if not finite.any(axis=0).any():  # every sampled step non-finite: the non-finite verdict explains the run
        return []
    # Layers with no finite sample get NaN here; computed column-wise to avoid numpy's All-NaN warning.
    median = np.array([np.median(col[ok]) if ok.any() else np.nan for col, ok in zip(ratios.T, finite.T)])
    if not np.isfinite(median).any() or np.nanmax(median) <= cfg.update_ratio:
        return []
    worst = int(np.nanargmax(median))
    lr = stats.context.get("lr")
    target = f"lower lr to about {lr * 1e-2 / median[worst]:.2g} (update/weight ~1e-2)" if lr else "lower the learning rate"
    return [Finding("large_updates", "warning", stats.layers[worst].label,
                    f"one step changes the weights by {median[worst]:.0%} of their norm (median over sampled steps; "
                    "healthy is ~0.1%-1%)", f"{_lr(stats.context)} too high", target)]


def loss_spikes(stats: TrainingStats, cfg: DiagnosticsConfig) -> list[Finding]:
    """Steps whose loss jumps ``spike_factor`` x above the running median of the previous steps."""
    losses = np.asarray(stats.losses, dtype=float)
    if len(losses) <= 2 * SPIKE_WINDOW:
        return []
    windows = np.lib.stride_tricks.sliding_window_view(losses[:-1], SPIKE_WINDOW)
    median = np.nanmedian(windows, axis=1)
    later = losses[SPIKE_WINDOW:]
    scale = float(np.nanmedian(losses[:SPIKE_WINDOW]))  # the untrained loss sets what counts as large
    spikes = np.flatnonzero((later > cfg.spike_factor * median) & (later - median > 0.25 * scale))
    if not len(spikes):
        return []
    top = spikes[np.argmax(later[spikes] / median[spikes])]
    step = int(top) + SPIKE_WINDOW + 1
    epoch = (step - 1) // max(stats.steps_per_epoch, 1) + 1
    return [Finding("loss_spikes", "warning", None,
                    f"{len(spikes)} loss spike(s); the largest at step {step} (epoch {epoch}): {later[top]:.3g} against a "
                    f"running median of {median[top]:.3g} ({later[top] / median[top]:.0f}x)",
                    f"{_lr(stats.context)} near the edge of stability",
                    "lower the lr, add warmup (schedule: {name: cosine, warmup_epochs: 1}) or set training.grad_clip: 1.0")]


def plateau(stats: TrainingStats, cfg: DiagnosticsConfig) -> list[Finding]:
    """A training loss that stopped improving while still near its untrained value."""
    train = [h["train/loss"] for h in stats.history if "train/loss" in h]
    if len(train) < 2 or not stats.losses:
        return []
    recent = train[-3:]
    start = float(np.nanmedian(stats.losses[:SPIKE_WINDOW]))
    change = (recent[0] - recent[-1]) / max(abs(recent[0]), 1e-12)
    if change >= 0.02 or recent[-1] < 0.7 * start:
        return []
    return [Finding("plateau", "warning", None,
                    f"train/loss {recent[-1]:.3g} after {len(train)} epochs ({-change:+.1%} over the last {len(recent)}), "
                    f"against {start:.3g} untrained: the network is not learning",
                    f"gradients too small (see the layer findings) or {_lr(stats.context)} too low",
                    "fix the layer findings first; otherwise raise the lr (deepfeat lr-find CONFIG)")]


def overfitting(stats: TrainingStats, cfg: DiagnosticsConfig) -> list[Finding]:
    """Validation loss rising ``overfit_rise`` above its best while the training loss keeps falling."""
    rows = [h for h in stats.history if "val/loss" in h and "train/loss" in h]
    if len(rows) < 3:
        return []
    val = np.array([h["val/loss"] for h in rows])
    best = int(np.nanargmin(val))
    end = rows[-1]
    risen = val[-2:] > (1 + cfg.overfit_rise) * val[best]  # two epochs in a row: one noisy epoch is no trend
    # Overfitting means the net fits its training data better than it ever fitted held-out data; a diverging
    # run (train/loss exploding) also sees val/loss rise, and must not be told to regularize.
    fits_train = end["train/loss"] < min(rows[best]["train/loss"], val[best])
    if not (risen.all() and fits_train):
        return []
    gap = f"; train/acc {end['train/acc']:.1%} vs val/acc {end['val/acc']:.1%}" if "val/acc" in end and "train/acc" in end else ""
    return [Finding("overfitting", "warning", None,
                    f"val/loss rose from {val[best]:.3g} (epoch {best + 1}) to {val[-1]:.3g} (epoch {len(rows)}) while "
                    f"train/loss fell to {end['train/loss']:.3g}{gap}", "too little regularization for the data",
                    "add regularization (encoder dropout, regularization: l2, norm: batch), more data, or stop early "
                    "(training.patience: 5 restores the best epoch)")]


def nonfinite(stats: TrainingStats, cfg: DiagnosticsConfig) -> list[Finding]:
    """Skipped steps (non-finite loss) and layers that produced inf/nan activations."""
    out = []
    if stats.skipped_steps:
        out.append(Finding("nonfinite", "warning", None,
                           f"{stats.skipped_steps} of {len(stats.losses)} steps had a non-finite loss and were skipped",
                           f"{_lr(stats.context)} too high, or inf/nan in the data",
                           "lower the lr, set training.grad_clip: 1.0, and check the data for extreme values"))
    for s in stats.samples:
        bad = [stats.layers[i] for i, rec in enumerate(s["layers"]) if rec.get("finite") is False]
        if bad:
            out.append(Finding("nonfinite_activations", "warning", bad[0].label,
                               f"inf/nan activations at step {s['step']} (epoch {s['epoch']}) in {len(bad)} layer(s)",
                               "the weights or the inputs overflowed", "lower the lr or set training.grad_clip: 1.0"))
            break
    return out


CHECKS: tuple[Check, ...] = (nonfinite, gradient_flow, signal, dead_units, saturation, update_size,
                             loss_spikes, plateau, overfitting)


def diagnose(stats: TrainingStats, cfg: DiagnosticsConfig | None = None, preflight: Iterable[Finding] = ()) -> list[Finding]:
    """All findings for a run, warnings first; a training check repeating a pre-flight kind is dropped."""
    cfg = cfg or DiagnosticsConfig(enabled=True)
    findings = list(preflight)
    seen = {f.kind for f in findings}
    for check in CHECKS:
        findings += [f for f in check(stats, cfg) if f.kind not in seen]
    return sorted(findings, key=lambda f: f.severity != "warning")

