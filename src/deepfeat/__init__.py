"""deepfeat: deep feature learning on PyTorch.

Learn representations from raw data, see how good they are, understand why training went well or
badly, and reuse them. Start with :func:`fit`; every CLI subcommand is a function of :mod:`deepfeat.api`.
"""

from deepfeat import data, eval, learners, nn, optim  # noqa: F401  (registration on import)
from deepfeat.api import Run, embed, evaluate, export, fit, load, report, resume
from deepfeat.config import Config, load_config
from deepfeat.data.datasets import register_dataset
from deepfeat.errors import CheckpointError, ConfigError, DataError, DeepfeatError, TrainingError
from deepfeat.learners.base import Learner
from deepfeat.learners.build import LEARNERS
from deepfeat.nn.custom import register_encoder

register_learner = LEARNERS.register  # @deepfeat.register_learner("name") on a Learner subclass or factory

__version__ = "0.1.0"

__all__ = [
    "CheckpointError", "Config", "ConfigError", "DataError", "DeepfeatError", "Run", "TrainingError",
    "Learner", "embed", "evaluate", "export", "fit", "load", "load_config", "register_dataset", "register_encoder",
    "register_learner", "report", "resume",
]
