"""The training engine: loop, callbacks, checkpoints, precision and device, export."""

from deepfeat.engine.callbacks import Callback, CSVLogger, EarlyStopping, ModelCheckpoint
from deepfeat.engine.checkpoint import load_checkpoint, save_checkpoint
from deepfeat.engine.device import Precision, resolve_device, resolve_precision
from deepfeat.engine.progress import Progress
from deepfeat.engine.seeding import seed_everything
from deepfeat.engine.inference import evaluate_split
from deepfeat.engine.trainer import FitResult, Trainer, TrainingConfig

__all__ = [
    "CSVLogger", "Callback", "EarlyStopping", "FitResult", "ModelCheckpoint", "Precision", "Progress",
    "Trainer", "TrainingConfig", "evaluate_split", "load_checkpoint", "resolve_device", "resolve_precision",
    "save_checkpoint", "seed_everything",
]
