"""A run folder loaded back (config, data info, learner, results), and the data a config names."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepfeat.config import DATA_SPLIT_KEYS, Config, load_config
from deepfeat.data.datasets import DATASETS, load_dataset
from deepfeat.data.info import DataInfo
from deepfeat.data.splits import DataBundle
from deepfeat.errors import CheckpointError
from deepfeat.layout import RunPaths
from deepfeat.learners.base import Learner
from deepfeat.run.model_io import load_model
from deepfeat.run.results import Results, read_results_file


@dataclass
class Run:
    """A run folder with what was loaded from it: config, data info, the learner and its results."""

    dir: Path
    config: Config
    info: DataInfo
    learner: Learner
    results: Results = field(default_factory=Results)

    @property
    def paths(self) -> RunPaths:
        return RunPaths(self.dir)


def load_data(cfg: Config) -> DataBundle:
    """The config's dataset, split and normalized as configured."""
    spec = {k: v for k, v in cfg.data.items() if k not in DATA_SPLIT_KEYS}
    split = {k: cfg.data[k] for k in DATA_SPLIT_KEYS if k in cfg.data}
    return load_dataset(spec, seed=cfg.seed, **split)


def load(run_dir: str | Path) -> Run:
    """Load a finished run: config, data info, and the exported model (in eval mode)."""
    paths = RunPaths(Path(run_dir))
    if not paths.root.is_dir():
        raise CheckpointError(f"run folder {paths.root}: not found. Pass the folder `deepfeat fit` printed.")
    cfg = load_config(paths.config)
    learner, info = load_model(paths.model)
    results = read_results_file(paths) or Results()
    return Run(paths.root, cfg, info, learner, results)


def data_spec(data: Any) -> dict[str, Any]:
    """``"mnist"``, ``{"name": ...}`` or a file path -> a data spec."""
    if isinstance(data, dict):
        return data
    text = str(data)
    if Path(text).suffix in (".npy", ".npz", ".csv") or Path(text).is_dir() and "/" in text:
        return {"name": "arrays" if Path(text).suffix else "image_folder", "path": text}
    return {"name": text}


def model_data_spec(info: DataInfo, data: Any) -> dict[str, Any]:
    """``data_spec(data)`` for a model trained on ``info``: a text dataset gets the model's tokenizer
    (vocabulary included), so new texts get the ids they would have had in training."""
    spec = data_spec(data)
    if info.tokenizer is not None and "tokenizer" in inspect.signature(DATASETS.get(spec["name"], "data")).parameters:
        spec = {**spec, "tokenizer": info.tokenizer}
    return spec


