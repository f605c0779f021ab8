"""deepfeat: deep feature learning on PyTorch.

Learn representations from raw data, see how good they are, understand why training went well or
badly, and reuse them. Start with :func:`fit`; every CLI subcommand is a function of :mod:`deepfeat.api`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from deepfeat.errors import CheckpointError, ConfigError, DataError, DeepfeatError, TrainingError

__version__ = "0.1.0"

# Public names -> (module, attribute), imported on first use (PEP 562): `import deepfeat` stays cheap, so
# `deepfeat --help` and `deepfeat list` answer without torch; using a name imports (and registers) what it needs.
_LAZY: dict[str, tuple[str, str]] = {
    **{name: ("deepfeat.api", name) for name in ("Run", "embed", "evaluate", "export", "fit", "load", "predict", "report", "resume",
                                                     "tune")},
    "Config": ("deepfeat.config", "Config"), "load_config": ("deepfeat.config", "load_config"),
    "register_dataset": ("deepfeat.data.datasets", "register_dataset"),
    "Learner": ("deepfeat.learners.base", "Learner"),
    "register_learner": ("deepfeat.learners.build", "LEARNERS.register"),  # @deepfeat.register_learner("name")
    "register_encoder": ("deepfeat.nn.custom", "register_encoder"),
}
_SUBPACKAGES = ("api", "cli", "config", "data", "engine", "eval", "learners", "nn", "optim", "reports", "run", "sklearn")


def __getattr__(name: str) -> Any:
    if name in _LAZY or name in _SUBPACKAGES:
        importlib.import_module("deepfeat.api")  # the whole library, every registry filled, on first use
    if name in _LAZY:
        module, path = _LAZY[name]
        value: Any = importlib.import_module(module)
        for part in path.split("."):
            value = getattr(value, part)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"deepfeat.{name}")
    else:
        raise AttributeError(f"module 'deepfeat' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, *_SUBPACKAGES])


if TYPE_CHECKING:
    from deepfeat.api import Run, embed, evaluate, export, fit, load, predict, report, resume, tune
    from deepfeat.config import Config, load_config
    from deepfeat.data.datasets import register_dataset
    from deepfeat.learners.base import Learner
    from deepfeat.nn.custom import register_encoder

__all__ = [
    "CheckpointError", "Config", "ConfigError", "DataError", "DeepfeatError", "Run", "TrainingError",
    "Learner", "embed", "evaluate", "export", "fit", "load", "load_config", "predict", "register_dataset",
    "register_encoder", "register_learner", "report", "resume", "tune",
]
