"""The Python API: every CLI subcommand is one call here, a thin face over :mod:`deepfeat.run`.

    >>> import deepfeat
    >>> run = deepfeat.fit("examples/configs/digits_mlp.yaml", overrides=["training.epochs=5"])
    >>> run.results["test"]["test/acc"]
"""

from __future__ import annotations

from deepfeat.run import Run, check_config, diagnose, embed, evaluate, export, fit, load, lr_find, report, resume
from deepfeat.run.apply import (Predictions, anomaly_score, calibrate, corrupt, denoise, denoise_file, interpolate,
                                load_raw, predict, predict_anomaly, reconstruct, sample, sample_file, score_file,
                                score_series, stored_threshold)
from deepfeat.run.runs import data_spec, load_data
from deepfeat.run.tune import tune

__all__ = [
    "Predictions", "Run", "anomaly_score", "calibrate", "check_config", "corrupt", "data_spec", "denoise", "denoise_file", "diagnose",
    "embed", "evaluate", "export", "fit", "interpolate", "load", "load_data", "load_raw", "lr_find", "predict",
    "predict_anomaly", "reconstruct", "report", "resume", "sample", "sample_file", "score_file", "score_series",
    "stored_threshold", "tune",
]
