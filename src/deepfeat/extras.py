"""The optional extras (``pip install 'deepfeat[<extra>]'``) and one check of whether each is installed.

Parts of a run that need an extra declare it by name (see ``deepfeat.run.registries.evaluation``), so a
missing package is reported before training, in one line naming the extra, instead of after it. Code that
uses an extra imports it through :func:`load`, the one place where a missing extra becomes that line.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from deepfeat.errors import ConfigError

# The module whose presence stands for each extra (the one its users import first).
MODULES: dict[str, str] = {
    "images": "torchmetrics",
    "audio": "soundfile",
    "umap": "umap",
    "transfer": "timm",
    "text": "sentence_transformers",
    "tensorboard": "tensorboard",
    "export": "onnx",
    "tracking": "mlflow",
    "search": "optuna",
    "tables": "pyarrow",
    "timeseries": "aeon",
    "shards": "datasets",
    "faiss": "faiss",
}


def installed(extra: str) -> bool:
    """Whether the extra's module can be imported (found without importing it: the check stays cheap)."""
    try:
        return importlib.util.find_spec(MODULES[extra]) is not None
    except (ImportError, ValueError):  # a broken parent package or a module with no spec
        return False


def require(extras: dict[str, list[str]], where: str) -> None:
    """ConfigError naming every extra of ``extras`` (``{extra: [what needs it]}``) that is not installed."""
    missing = {extra: users for extra, users in extras.items() if not installed(extra)}
    if missing:
        got = "; ".join(f"{extra} (for {', '.join(users)}) not installed" for extra, users in missing.items())
        raise ConfigError(f"optional extras at {where}: expected {', '.join(missing)} installed, got {got}. "
                          f"Install: pip install 'deepfeat[{','.join(missing)}]'.")


def load(module: str, extra: str, where: str, otherwise: str = "") -> ModuleType:
    """Import ``module`` of the optional ``extra``; a one-line ConfigError naming the extra when it cannot be.

    ``where`` says what needs it (``logging.tensorboard``); ``otherwise`` ends the fix with another way out
    (``", or set logging.tensorboard: false"``). OSError counts as missing too: a wheel whose native library
    fails to load (soundfile without libsndfile) is as unusable as an absent one.
    """
    try:
        return importlib.import_module(module)
    except (ImportError, OSError) as e:
        raise ConfigError(f"optional extra '{extra}' at {where}: expected it installed, got {type(e).__name__}: "
                          f"{e}. Install it: pip install 'deepfeat[{extra}]'{otherwise}.") from None
