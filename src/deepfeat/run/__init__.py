"""The run layer: what happens to a run, from fit to its folder, and what is done with a finished one."""

from deepfeat.run import evaluations, mlflow_tracking, observers, ssl_health  # noqa: F401  (registration on import)
from deepfeat.run.apply import embed
from deepfeat.run.short_runs import diagnose, lr_find
from deepfeat.run.workflow import check_config, evaluate, export, fit, report, resume
from deepfeat.run.runs import Run, load

__all__ = ["Run", "check_config", "diagnose", "embed", "evaluate", "export", "fit", "load", "lr_find", "report", "resume"]
