"""Optimizers, learning-rate schedules, parameter groups and the single optimisation step."""

from deepfeat.optim.lr_scale import scale_module_lr
from deepfeat.optim.optimizers import OPTIMIZERS, build_optimizer, layerwise_lr_groups
from deepfeat.optim.schedulers import SCHEDULERS, Schedule, build_scheduler
from deepfeat.optim.step import StepResult, apply_gradients

__all__ = [
    "OPTIMIZERS",
    "SCHEDULERS",
    "Schedule",
    "StepResult",
    "apply_gradients",
    "build_optimizer",
    "build_scheduler",
    "layerwise_lr_groups",
    "scale_module_lr",
]
