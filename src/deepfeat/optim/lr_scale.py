"""Scale the learning rate of one part of a model: a smaller rate for a pretrained backbone.

Fine-tuning a pretrained encoder with the rate that suits a freshly initialised head distorts the
features the head relies on; a backbone rate 10x below the head's is the common remedy
(discriminative fine-tuning, Howard & Ruder 2018; LP-FT, Kumar et al. 2022).
"""

from __future__ import annotations

import torch
from torch import nn

from deepfeat.errors import ConfigError


def scale_module_lr(optimizer: torch.optim.Optimizer, module: nn.Module, scale: float) -> torch.optim.Optimizer:
    """Split every param group of a fresh ``optimizer`` so ``module``'s parameters train at ``lr * scale``.

    Groups keep their other settings (weight decay, name); the split part is named ``"<name>/scaled"``.
    Call it before the first step and before a schedule is built (schedules keep the ratios between groups).
    """
    if not scale > 0:
        raise ConfigError(f"learning-rate scale: expected a number > 0, got {scale!r}. Typical values: 0.01-1.")
    if scale == 1.0:
        return optimizer
    inside = {id(p) for p in module.parameters()}
    groups = []
    for group in optimizer.param_groups:
        own = [p for p in group["params"] if id(p) in inside]
        rest = [p for p in group["params"] if id(p) not in inside]
        if rest:
            groups.append({**group, "params": rest})
        if own:
            groups.append({**group, "params": own, "lr": group["lr"] * scale,
                           "name": f"{group.get('name', 'group')}/scaled"})
    optimizer.param_groups = groups
    return optimizer
