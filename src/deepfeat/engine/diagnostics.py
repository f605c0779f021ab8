"""Training diagnostics: per-layer statistics sampled by hooks every few steps, kept as plain data.

The :class:`Diagnostics` callback attaches forward hooks to the watched layers for one step in
every ``every_n_steps`` and removes them afterwards, so the steps in between run at full speed.
What it collects (:class:`TrainingStats`) becomes verdicts with remedies in
:func:`deepfeat.eval.diagnose.diagnose`. Like every callback it observes: it never changes the math.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from deepfeat.engine.callbacks import Callback
from deepfeat.eval.training_stats import DiagnosticsConfig, Finding, LayerInfo, TrainingStats  # noqa: F401  (re-exported)
from deepfeat.errors import ConfigError
from deepfeat.nn.activations import ACTIVATIONS, activation_family, split_activation
from deepfeat.nn.init import INITIALIZERS

if TYPE_CHECKING:
    from deepfeat.engine.trainer import Trainer

HISTOGRAM_VALUES = 4096  # activation values kept per layer for the histograms (a strided subset)


@dataclass
class Watched:
    """A weight layer (Linear/Conv) of a live model and the activation module that follows it."""

    info: LayerInfo
    module: nn.Module
    act: nn.Module | None


def activation_name(module: nn.Module) -> str | None:
    """The registry name of an activation module (``nn.ReLU -> "relu"``); None for anything else."""
    if isinstance(module, nn.Identity):
        return None
    try:
        return split_activation(module)[0]
    except ConfigError:
        return None


def watch_layers(model: nn.Module) -> list[Watched]:
    """Every Linear/Conv layer of ``model`` in registration order, each with the activation after it."""
    found: list[tuple[str, nn.Module, nn.Module | None, str | None]] = []
    for name, m in model.named_modules():
        if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):
            found.append((name, m, None, None))
        elif found and found[-1][2] is None and (act := activation_name(m)) is not None:
            found[-1] = (*found[-1][:2], m, act)
    return [Watched(LayerInfo(i + 1, name, act, activation_family(act).family if act else None), m, a)
            for i, (name, m, a, act) in enumerate(found)]


def _units(out: torch.Tensor) -> torch.Tensor:
    """``(B, C, ...) -> (C, B * ...)``: one row per unit (feature or channel)."""
    return out.transpose(0, 1).reshape(out.shape[1], -1)


class ActivationProbe:
    """Forward hooks summarising each watched activation's output on training-mode batches.

    With ``grads`` each output also gets a tensor hook for ``d loss / d activation`` (its std).
    Only attached for the batches that are sampled; :meth:`detach` removes every hook.
    """

    def __init__(self, layers: list[Watched], grads: bool = False, keep_values: bool = False) -> None:
        self.layers, self.grads, self.keep_values = layers, grads, keep_values
        self.raw: dict[int, dict[str, torch.Tensor]] = {}
        self.handles: list[Any] = []

    def attach(self) -> "ActivationProbe":
        for i, w in enumerate(self.layers):
            if w.act is not None:
                self.handles.append(w.act.register_forward_hook(self._hook(i, w.info.activation)))
        return self

    def detach(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []

    def _hook(self, i: int, act: str | None) -> Any:
        def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            if not module.training or output.dim() < 2:
                return  # validation batches and scalars are not what is diagnosed
            out = output.detach().float()
            units = _units(out)
            rec = {"mean": out.mean(), "std": out.std(), "sample_std": out.std(0).mean(),
                   "finite": torch.isfinite(out).all().float(), "unit_max": units.amax(1)}
            if act == "sigmoid":
                rec["saturated"] = ((out < 0.01) | (out > 0.99)).float().mean()
            elif act == "tanh":
                rec["saturated"] = (out.abs() > 0.99).float().mean()
            if self.keep_values:
                flat = out.flatten()
                rec["values"] = flat[:: max(1, flat.numel() // HISTOGRAM_VALUES)][:HISTOGRAM_VALUES]
            if self.grads and output.requires_grad:
                output.register_hook(lambda g: rec.__setitem__("grad_std", g.detach().float().std()))
            self.raw[i] = rec

        return hook

    def read(self) -> dict[int, dict[str, Any]]:
        """Per layer index: floats (``mean``, ``std``, ...), ``unit_max`` and ``values`` as CPU tensors."""
        out: dict[int, dict[str, Any]] = {}
        for i, rec in self.raw.items():
            scalars = {k: v for k, v in rec.items() if v.dim() == 0}
            values = torch.stack(list(scalars.values())).cpu().tolist()  # one device sync per layer
            out[i] = {**dict(zip(scalars, values)), **{k: v.cpu() for k, v in rec.items() if v.dim() > 0}}
        self.raw = {}
        return out


def spec_label(spec: Any, registry: Any) -> str:
    """``{"name": "normal", "std": 0.01} -> "normal(std=0.01)"`` for messages."""
    if isinstance(spec, nn.Module):
        return type(spec).__name__.lower()
    name, kwargs = registry.split_spec(spec, "diagnostics")
    return name + (f"({', '.join(f'{k}={v}' for k, v in kwargs.items())})" if kwargs else "")


def run_context(learner: nn.Module, optimizers: list[torch.optim.Optimizer]) -> dict[str, Any]:
    """The settings a verdict cites as causes: activation, init, norm, optimizer and its initial lr."""
    enc = getattr(getattr(learner, "encoder", None), "config", None) or {}
    ctx: dict[str, Any] = {"encoder": enc.get("name")}
    if "activation" in enc:
        ctx["activation"] = spec_label(enc["activation"], ACTIVATIONS)
    if "weight_init" in enc:
        ctx["weight_init"] = spec_label(enc["weight_init"], INITIALIZERS)
    if "norm" in enc:
        ctx["norm"] = str(enc["norm"] if not isinstance(enc["norm"], dict) else enc["norm"].get("name"))
    if optimizers:
        group = optimizers[0].param_groups[0]
        ctx["optimizer"] = type(optimizers[0]).__name__.lower()
        ctx["lr"] = float(group.get("initial_lr", group["lr"]))  # before any warmup scaled it
    return ctx


class Diagnostics(Callback):
    """Samples per-layer statistics every ``every_n_steps`` steps, and every step's loss.

    Per sampled step and layer: activation mean/std, the share of ReLU-family units silent on all of
    the last ``window`` sampled batches (dead), the share of saturated sigmoid/tanh outputs, the
    weight-gradient norm and the update-to-weight ratio ``||dW|| / ||W||``. Hooks are attached the
    step before a sampled one and removed right after it.
    """

    def __init__(self, cfg: DiagnosticsConfig | None = None) -> None:
        self.cfg = cfg or DiagnosticsConfig(enabled=True)
        self.stats = TrainingStats()
        self._probe: ActivationProbe | None = None
        self._before: list[torch.Tensor] = []
        self._losses: list[torch.Tensor] = []
        self._skipped: list[torch.Tensor] = []
        self._maxima: dict[int, deque[torch.Tensor]] = {}

    def on_fit_start(self, trainer: "Trainer") -> None:
        self.layers = watch_layers(trainer.learner)
        self.stats.layers = [w.info for w in self.layers]
        self.stats.context = {**run_context(trainer.learner, trainer.optimizers), "depth": len(self.layers)}
        self.stats.steps_per_epoch = trainer.steps_per_epoch
        self._arm()  # the first step is always sampled: it shows the network as initialized

    def on_step_end(self, trainer: "Trainer", metrics: dict[str, torch.Tensor]) -> None:
        if "loss" in metrics:  # a device tensor: read once per epoch, no per-step sync
            self._losses.append(metrics["loss"])
        if "skipped" in metrics:  # a device flag, summed with the losses
            self._skipped.append(metrics["skipped"])
        if self._probe is not None:
            self._collect(trainer)
        if (trainer.global_step + 1) % self.cfg.every_n_steps == 0:
            self._arm()

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, float]) -> None:
        self._flush_losses()
        self.stats.history = list(trainer.history)

    def on_fit_end(self, trainer: "Trainer") -> None:
        self.finish()

    def finish(self) -> None:
        """Read the pending step losses and remove any hook (also what to call when training failed)."""
        self._flush_losses()
        if self._probe is not None:  # armed after the last step: evaluation must run unhooked
            self._probe.detach()
            self._probe = None

    def _flush_losses(self) -> None:
        if self._losses:
            self.stats.losses += torch.stack([v.float() for v in self._losses]).cpu().tolist()
            self._losses = []
        if self._skipped:
            self.stats.skipped_steps += int(torch.stack([v.float() for v in self._skipped]).sum())
            self._skipped = []

    def _arm(self) -> None:
        self._probe = ActivationProbe(self.layers, keep_values=True).attach()
        self._before = [w.module.weight.detach().clone() for w in self.layers]

    def _collect(self, trainer: "Trainer") -> None:
        assert self._probe is not None
        acts = self._probe.read()
        self._probe.detach()
        self._probe = None
        records = []
        for i, (w, before) in enumerate(zip(self.layers, self._before)):
            rec = self._weight_stats(w.module.weight, before)
            if i in acts:
                rec.update(self._activation_stats(i, w.info, acts[i]))
            records.append(rec)
        self._before = []
        self.stats.samples.append({"step": trainer.global_step, "epoch": trainer.epoch + 1, "layers": records})

    @staticmethod
    def _weight_stats(weight: torch.Tensor, before: torch.Tensor) -> dict[str, float]:
        grad = weight.grad
        norms = torch.stack([grad.norm() if grad is not None else weight.new_tensor(math.nan),
                             (weight.detach() - before).norm(), before.norm()]).float().cpu().tolist()
        return {"grad_norm": norms[0], "update_ratio": norms[1] / max(norms[2], 1e-12)}

    def _activation_stats(self, i: int, info: LayerInfo, rec: dict[str, Any]) -> dict[str, Any]:
        values = rec.pop("values").numpy()
        self.stats.first_values.setdefault(i, values)
        self.stats.last_values[i] = values
        unit_max = rec.pop("unit_max")
        if info.family == "relu":
            window = self._maxima.setdefault(i, deque(maxlen=self.cfg.window))
            window.append(unit_max)
            rec["dead"] = float((torch.stack(list(window)).amax(0) <= 0).float().mean())
        rec["finite"] = bool(rec["finite"])
        return rec

    def state_dict(self) -> dict[str, Any]:
        return {"samples": self.stats.samples, "losses": self.stats.losses, "skipped_steps": self.stats.skipped_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stats.samples, self.stats.losses = list(state["samples"]), list(state["losses"])
        self.stats.skipped_steps = int(state["skipped_steps"])


def find_callback(callbacks: list[Callback], kind: type) -> Any:
    """The first callback of type ``kind`` in ``callbacks``, or None."""
    return next((c for c in callbacks if isinstance(c, kind)), None)
