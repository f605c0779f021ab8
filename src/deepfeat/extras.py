"""The optional extras (``pip install 'deepfeat[<extra>]'``) and one check of whether each is installed.

Parts of a run that need an extra declare it by name (see ``deepfeat.run.registries.evaluation``), so a
missing package is reported before training, in one line naming the extra, instead of after it.
"""

from __future__ import annotations

import importlib.util

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
    "explorer": "plotly",
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
