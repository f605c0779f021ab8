"""Pre-flight check: one forward and backward pass on a batch before the first step, and a lint.

It measures the activation and gradient scale by depth at initialization (the diagnostic of
Glorot & Bengio 2010) and flags known traps: an initialization that does not match the activation,
a bias right before batch norm, unnormalized inputs and, optionally, a learning rate far from a
quick range test's suggestion. Everything runs on a copy of the model with the RNG forked, so the
run trains exactly as it would without the check.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from deepfeat.engine.callbacks import Callback
from deepfeat.engine.device import Precision
from deepfeat.engine.diagnostics import (
    ActivationProbe,
    DiagnosticsConfig,
    Finding,
    run_context,
    watch_layers,
)
from deepfeat.engine.lr_find import LRFindResult, forked_rng, lr_range_test
from deepfeat.learners.base import Batch, Learner
from deepfeat.nn.activations import activation_family

if TYPE_CHECKING:
    from deepfeat.engine.trainer import Trainer

log = logging.getLogger("deepfeat")


@dataclass
class PreflightResult:
    """Per-layer scale at initialization (``profile``), the lint's findings and the LR test if run."""

    profile: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    lr_test: LRFindResult | None = None


def depth_profile(learner: Learner, batch: Batch, precision: Precision) -> tuple[list[dict[str, Any]], float]:
    """One forward+backward on a copy: per layer activation std (overall and across samples),
    ``d loss / d activation`` std and weight-gradient norm; and the loss."""
    model = copy.deepcopy(learner).train()
    layers = watch_layers(model)
    probe = ActivationProbe(layers, grads=True).attach()
    try:
        with forked_rng(precision.device), precision.autocast():
            loss = model.training_step(batch)["loss"].float()
        if torch.isfinite(loss):
            loss.backward()
        acts = probe.read()
    finally:
        probe.detach()
    profile = []
    for i, w in enumerate(layers):
        grad = w.module.weight.grad
        row = {"index": w.info.index, "name": w.info.name, "activation": w.info.activation,
               "weight_grad_norm": float(grad.norm()) if grad is not None else float("nan")}
        row.update({k: v for k, v in acts.get(i, {}).items() if k in ("mean", "std", "sample_std", "grad_std")})
        profile.append(row)
    return profile, float(loss.detach())


def lint_init(ctx: dict[str, Any]) -> list[Finding]:
    """An initialization that does not suit the activation (He with sigmoid/tanh, SELU without LeCun)."""
    act, init = (ctx.get("activation") or "").split("(")[0], ctx.get("weight_init", "")
    if not act:
        return []
    family = activation_family(act).family
    if init.startswith("he_") and family == "saturating":
        return [Finding("init_mismatch", "warning", None, f"weight_init {init} with activation {act}",
                        f"He's ReLU gain is too large for {act}",
                        "use weight_init: auto (Xavier with the activation's gain) or xavier_normal")]
    if act == "selu" and init not in ("lecun_normal", "auto"):
        return [Finding("init_mismatch", "warning", None, f"weight_init {init} with activation selu",
                        "SELU self-normalizes only with LeCun-normal weights",
                        "use weight_init: lecun_normal (or auto)")]
    return []


def lint_bias_before_norm(model: nn.Module) -> list[Finding]:
    """Linear/Conv layers with a bias directly followed by batch norm (the norm's shift makes it redundant)."""
    names = []
    for prefix, seq in model.named_modules():
        children = list(seq.named_children()) if isinstance(seq, nn.Sequential) else []
        for (name, a), (_, b) in itertools.pairwise(children):
            if isinstance(a, (nn.Linear, nn.modules.conv._ConvNd)) and a.bias is not None \
                    and isinstance(b, nn.modules.batchnorm._BatchNorm):
                names.append(f"{prefix}.{name}" if prefix else name)
    if not names:
        return []
    return [Finding("bias_before_norm", "info", names[0], f"{len(names)} layer(s) with a bias right before batch norm",
                    "batch norm's shift makes the bias redundant",
                    "build those layers with bias=False")]


def lint_inputs(x: torch.Tensor) -> list[Finding]:
    """Inputs far from zero mean and unit scale (first batch)."""
    if not x.is_floating_point():
        return []
    mean, std = float(x.float().mean()), float(x.float().std())
    if abs(mean) <= 1.0 and 0.05 <= std <= 5.0:
        return []
    return [Finding("unnormalized_inputs", "warning", None, f"the first batch has mean {mean:.3g} and std {std:.3g}",
                    "data on its raw scale",
                    "set data.normalize: true (standardizes with training-split statistics)")]


def lint_lr(lr: float | None, test: LRFindResult) -> list[Finding]:
    """A learning rate 10x above (or 30x below) what the range test suggests."""
    if lr is None or test.suggestion is None:
        return []
    ratio = lr / test.suggestion
    if 1 / 30 < ratio < 10:
        return []
    side = "above" if ratio >= 10 else "below"
    return [Finding("lr_range", "warning" if ratio >= 10 else "info", None,
                    f"lr {lr:.3g} is {max(ratio, 1 / ratio):.0f}x {side} the range test's suggestion {test.suggestion:.2g}",
                    test.reason, f"try optimizer.lr={test.suggestion:.2g} (deepfeat lr-find CONFIG shows the sweep)")]


def lint_signal(profile: list[dict[str, Any]], ctx: dict[str, Any], ratio: float) -> list[Finding]:
    """Activations whose spread across samples shrinks or grows by more than ``1/ratio`` with depth."""
    rows = [r for r in profile if r.get("sample_std") is not None]
    if len(rows) < 3 or rows[0]["sample_std"] <= 0:
        return []
    first, last = rows[0], rows[-1]
    change = last["sample_std"] / rows[0]["sample_std"]
    if ratio <= change <= 1 / ratio:
        return []
    kind, what = ("signal_vanishes", "falls") if change < ratio else ("signal_explodes", "grows")
    cause = f"{ctx.get('activation', 'this activation')}, {ctx.get('weight_init', 'this')} init, {len(profile)} layers"
    return [Finding(kind, "warning", f"layer {last['index']} ({last['name']}, {last['activation']})",
                    f"at initialization the activations' spread across samples {what} from {first['sample_std']:.2g} "
                    f"(layer {first['index']}) to {last['sample_std']:.2g} ({change:.1g}x)", cause,
                    "use weight_init: auto, add norm: batch (or layer), or use fewer layers")]


class Preflight(Callback):
    """Runs the pre-flight check when a fit starts (not on resume) and logs its warnings."""

    def __init__(self, cfg: DiagnosticsConfig | None = None, optimizer: Any = None) -> None:
        self.cfg = cfg or DiagnosticsConfig(enabled=True)
        self.optimizer = optimizer
        self.result: PreflightResult | None = None

    def on_fit_start(self, trainer: "Trainer") -> None:
        if trainer.global_step > 0:
            return  # a resumed run was checked when it first started
        learner, precision = trainer.learner, trainer.precision
        x, y = next(iter(trainer.data.train.batches(trainer.cfg.batch_size)))
        batch = (precision.prepare_input(x), None if y is None else y.to(precision.device))
        ctx = run_context(learner, trainer.optimizers)
        profile, loss = depth_profile(learner, batch, precision)
        result = PreflightResult(profile)
        result.findings += lint_inputs(x) + lint_init(ctx) + lint_bias_before_norm(learner)
        result.findings += lint_signal(profile, ctx, self.cfg.signal_ratio)
        if not math.isfinite(loss):
            result.findings.append(Finding("nonfinite", "warning", None, f"the loss of the first batch is {loss}",
                                           "the network or the data produce inf/nan before any update",
                                           "check the data for inf/nan and extreme values; lower the init scale"))
        if self.cfg.lr_check and self.optimizer is not None:
            result.lr_test = lr_range_test(learner, trainer.data.train, self.optimizer, precision,
                                           batch_size=trainer.cfg.batch_size, steps=60, seed=trainer.seed)
            result.findings += lint_lr(ctx.get("lr"), result.lr_test)
        for f in result.findings:
            if f.severity == "warning":
                log.warning(f"preflight: {f}")
        self.result = result
