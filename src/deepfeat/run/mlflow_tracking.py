"""MLflow tracking (``logging: {mlflow: true}``): every run as an MLflow run, comparisons and searches as parents.

A run logs its resolved config flattened as params (``optimizer.lr``), every epoch's metrics with the epoch
as the step, the final results (test metrics, ``<evaluation>/<metric>``, ``best/<monitor>``), tags (learner,
encoder, dataset, deepfeat version, git commit) and its folder's files (``report.html``, ``plots/``,
``model/``, ``results.json``, ``config.yaml``, ``metrics.csv``). The MLflow run id is kept in the run
folder's ``tracking.json``, so ``deepfeat resume`` continues the same MLflow run: epochs already logged by
the stopped process are not logged again (one value per epoch in the metric history) and the stopped attempt's
error tags are cleared; ``deepfeat evaluate`` logs the new results to it. A run that fails ends ``FAILED`` with
the recorded error, an interrupted or pruned one ``KILLED``.

The default store is ``sqlite:///<runs folder>/mlflow.db`` with artifacts in ``<runs folder>/mlartifacts``:
local, offline, no server (MLflow's file store is deprecated). ``mlflow ui --backend-store-uri
sqlite:///runs/mlflow.db`` shows it; a server is the same option with its URI (``logging.tracking_uri``).
Uses ``MlflowClient`` with an explicit store, never MLflow's global active run, so a user's own MLflow
session is left alone. Needs the ``tracking`` extra (``mlflow-skinny``), imported only when a run asks.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from deepfeat.config import Config
from deepfeat.engine.checkpoint import atomic_write
from deepfeat.extras import load
from deepfeat.layout import RunPaths
from deepfeat.run.integrations import INTEGRATIONS, Group, Integration, RunHook, parent_of
from deepfeat.run.results import Results

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from deepfeat.engine.trainer import Trainer

log = logging.getLogger("deepfeat")

NAME = "mlflow"
STORE_FILE, ARTIFACTS_DIR = "mlflow.db", "mlartifacts"
# results.status -> MLflow's run status
STATUS = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED", "pruned": "KILLED", "running": "RUNNING"}
RUN_FILES = ("results.json", "config.yaml", "metrics.csv", "report.html")
RUN_DIRS = ("plots", "model")
_BATCH = 100  # MLflow takes at most 100 params or tags and 1000 metrics per log_batch
_MAX_VALUE = 6000  # MLflow's longest param value
ERROR_TAG = "deepfeat.error"  # with _phase and _epoch: why the last attempt stopped


def client(uri: str) -> "MlflowClient":
    """An ``MlflowClient`` for ``uri``; a ConfigError naming the extra when MLflow is not installed."""
    mlflow = load("mlflow", "tracking", "logging.mlflow", ", or set logging.mlflow: false")
    return mlflow.MlflowClient(tracking_uri=uri)


def store_uri(config: Config, runs_folder: Path) -> str:
    """``logging.tracking_uri``, else a SQLite store in ``runs_folder`` (created)."""
    if config.logging.tracking_uri:
        return config.logging.tracking_uri
    runs_folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(runs_folder / STORE_FILE).resolve()}"


def experiment_name(config: Config) -> str:
    return config.logging.experiment or config.name or f"{config.data['name']}-{config.learner['name']}"


def experiment_id(mlflow: "MlflowClient", uri: str, name: str) -> str:
    """The id of experiment ``name``, created when missing (artifacts next to a local SQLite store)."""
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    local = uri.startswith("sqlite:///")
    location = (Path(uri.removeprefix("sqlite:///")).parent / ARTIFACTS_DIR).resolve().as_uri() if local else None
    try:
        return mlflow.create_experiment(name, artifact_location=location)
    except Exception:  # noqa: BLE001 -- another process created it meanwhile: use theirs
        found = mlflow.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def flatten(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``{"optimizer": {"lr": 0.1}} -> ("optimizer.lr", 0.1)``; lists stay whole values."""
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from flatten(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, data


def metric_name(key: str) -> str:
    """A key MLflow accepts (letters, digits, ``_ - . / space``)."""
    return re.sub(r"[^\w\-./ ]", "_", key)[:250]


def numbers(data: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric leaves of nested results, ``"<a>/<b>"`` keyed; ``settings`` (recorded inputs) are left out."""
    out: dict[str, float] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key != "settings":
            out.update(numbers(value, f"{name}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[metric_name(name)] = float(value)
    return out


def final_metrics(results: Results) -> dict[str, float]:
    """What a finished run measured: test metrics, evaluations, the best monitored value, fit time and epochs."""
    fit = results.fit or {}
    return {**numbers(results.test or {}), **numbers(results.evaluations or {}), **numbers(fit.get("best") or {}, "best/"),
            **numbers({k: fit[k] for k in ("time_s", "epochs", "steps") if k in fit}, "fit/")}


def git_commit() -> str | None:
    """The commit of the git repository the command runs in, if any."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _tags(config: Config) -> dict[str, str]:
    try:
        version = metadata.version("deepfeat")
    except metadata.PackageNotFoundError:
        version = "unknown"
    tags = {"deepfeat.learner": config.learner["name"], "deepfeat.encoder": str(config.encoder.get("name")),
            "deepfeat.dataset": str(config.data.get("name")), "deepfeat.version": version}
    commit = git_commit()
    return {**tags, "mlflow.source.git.commit": commit} if commit else tags


def _log_batch(mlflow: "MlflowClient", run_id: str, params: dict[str, Any] | None = None,
               metrics: dict[str, float] | None = None, step: int = 0, tags: dict[str, str] | None = None) -> None:
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    ps = [Param(metric_name(k), _text(v)) for k, v in (params or {}).items()]
    ts = [RunTag(k, _text(v)) for k, v in (tags or {}).items()]
    ms = [Metric(metric_name(k), float(v), now, step) for k, v in (metrics or {}).items()]
    for i in range(0, max(len(ps), len(ts), 1), _BATCH):
        mlflow.log_batch(run_id, params=ps[i:i + _BATCH], tags=ts[i:i + _BATCH])
    for i in range(0, len(ms), 10 * _BATCH):
        mlflow.log_batch(run_id, metrics=ms[i:i + 10 * _BATCH])


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_MAX_VALUE]


def _log_files(mlflow: "MlflowClient", run_id: str, root: Path) -> None:
    for name in RUN_FILES:
        if (root / name).is_file():
            mlflow.log_artifact(run_id, str(root / name))
    for name in RUN_DIRS:
        if (root / name).is_dir() and any((root / name).iterdir()):
            mlflow.log_artifacts(run_id, str(root / name), artifact_path=name)


def read_ids(paths: RunPaths) -> dict[str, Any] | None:
    """This run's MLflow ids from ``tracking.json`` (``{"tracking_uri", "experiment_id", "run_id"}``), if any."""
    if not paths.tracking.is_file():
        return None
    return json.loads(paths.tracking.read_text()).get(NAME)


def _write_ids(paths: RunPaths, ids: dict[str, Any]) -> None:
    data = json.loads(paths.tracking.read_text()) if paths.tracking.is_file() else {}
    text = json.dumps({**data, NAME: ids}, indent=2)
    atomic_write(paths.tracking, lambda tmp: Path(tmp).write_text(text))


class MLflowRun(RunHook):
    """One deepfeat run as one MLflow run: created (or, on resume, reopened) at its first event."""

    def __init__(self, config: Config, paths: RunPaths) -> None:
        self.config, self.paths = config, paths
        self.mlflow: MlflowClient | None = None
        self.run_id = self.uri = ""
        self.logged: set[tuple[str, int]] = set()  # (metric, step) pairs a stopped process already logged

    def start(self) -> None:
        """Open the MLflow run and say which it is and where (one line, unless the run's progress output is off)."""
        run_id = self._open()
        if self.config.training.progress != "none":
            print(f"tracking: MLflow run {run_id} at {self.uri}", file=sys.stderr, flush=True)

    def _open(self) -> str:
        """The MLflow run id, opening the run on first use: the one in ``tracking.json``, else a new one."""
        if self.mlflow is not None:
            return self.run_id
        ids = read_ids(self.paths)
        if ids is not None:  # a resumed run continues its MLflow run
            self._reopen(ids)
            return self.run_id
        uri = self.uri = store_uri(self.config, self.paths.root.parent)
        self.mlflow = client(uri)
        exp = experiment_id(self.mlflow, uri, experiment_name(self.config))
        parent = parent_of(NAME)
        tags = {**_tags(self.config), "deepfeat.run_dir": str(self.paths.root.resolve()),
                **({"mlflow.parentRunId": parent} if parent else {})}
        self.run_id = self.mlflow.create_run(exp, tags=tags, run_name=self.paths.root.name).info.run_id
        _write_ids(self.paths, {"tracking_uri": uri, "experiment_id": exp, "run_id": self.run_id})
        _log_batch(self.mlflow, self.run_id, params=dict(flatten(self.config.to_dict())))
        return self.run_id

    def _reopen(self, ids: dict[str, Any]) -> None:
        """Continue the MLflow run of a stopped attempt: RUNNING again, without that attempt's error tags, and
        knowing which epochs it logged (MLflow keeps every value logged at a step, so they are not logged twice)."""
        self.mlflow, self.run_id, self.uri = client(ids["tracking_uri"]), ids["run_id"], ids["tracking_uri"]
        data = self.mlflow.get_run(self.run_id).data
        self.logged = {(key, m.step) for key in data.metrics for m in self.mlflow.get_metric_history(self.run_id, key)}
        for tag in [k for k in data.tags if k.startswith(ERROR_TAG)]:
            self.mlflow.delete_tag(self.run_id, tag)
        self.mlflow.update_run(self.run_id, status="RUNNING")

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, float]) -> None:
        run_id, step = self._open(), epoch + 1
        metrics = {k: v for k, v in logs.items() if k not in ("epoch", "step") and isinstance(v, (int, float))
                   and (metric_name(k), step) not in self.logged}
        _log_batch(self.mlflow, run_id, metrics=metrics, step=step)

    def on_run_end(self, paths: RunPaths, results: Results) -> None:
        run_id = self._open()
        self._log_results(results, tags={"deepfeat.status": results.status})
        _log_files(self.mlflow, run_id, paths.root)
        self.mlflow.set_terminated(run_id, STATUS[results.status])

    def on_run_evaluated(self, paths: RunPaths, results: Results) -> None:
        """Log the new results to the finished run's MLflow run (its status stays); a run never tracked has none."""
        ids = read_ids(paths)
        if ids is None:
            return
        self.mlflow, self.run_id = client(ids["tracking_uri"]), ids["run_id"]
        self._log_results(results)
        _log_files(self.mlflow, self.run_id, paths.root)

    def _log_results(self, results: Results, tags: dict[str, str] | None = None) -> None:
        """The final metrics that are new or changed, at the last epoch's step: the latest value of each is the
        results', and evaluating again with the same numbers adds nothing to the history."""
        latest = self.mlflow.get_run(self.run_id).data.metrics
        metrics = {k: v for k, v in final_metrics(results).items() if latest.get(k) != v}
        _log_batch(self.mlflow, self.run_id, metrics=metrics, step=int((results.fit or {}).get("epochs", 0)), tags=tags)

    def on_run_failed(self, paths: RunPaths, results: Results) -> None:
        run_id = self._open()
        error = results.error or {}
        _log_batch(self.mlflow, run_id, tags={
            "deepfeat.status": results.status, ERROR_TAG: f"{error.get('type', 'error')}: {error.get('message', '')}",
            f"{ERROR_TAG}_phase": str(error.get("phase")), f"{ERROR_TAG}_epoch": str(error.get("epoch"))})
        _log_files(self.mlflow, run_id, paths.root)
        self.mlflow.set_terminated(run_id, STATUS.get(results.status, "FAILED"))


class MLflowGroup(Group):
    """A comparison's or a search's parent MLflow run; its runs are children (``mlflow.parentRunId``)."""

    def __init__(self, config: Config, root: Path, name: str, group_id: str | None) -> None:
        self.uri = store_uri(config, root.parent)
        self.experiment = experiment_name(config)
        self.mlflow = client(self.uri)
        if group_id:  # a search started again continues its parent run
            self.id = group_id
            self.mlflow.update_run(group_id, status="RUNNING")
            return
        exp = experiment_id(self.mlflow, self.uri, self.experiment)
        tags = {**_tags(config), "deepfeat.run_dir": str(root.resolve())}
        self.id = self.mlflow.create_run(exp, tags=tags, run_name=name).info.run_id

    def child_overrides(self) -> list[str]:
        return ["logging.mlflow=true", f"logging.tracking_uri={json.dumps(self.uri)}",
                f"logging.experiment={json.dumps(self.experiment)}"]

    def log(self, params: dict[str, Any] | None = None, metrics: dict[str, float] | None = None,
            files: list[Path] | None = None, tags: dict[str, str] | None = None) -> None:
        if params:  # params are write-once in MLflow: a reopened group logs only those not there yet
            params = {k: v for k, v in params.items() if metric_name(k) not in self.mlflow.get_run(self.id).data.params}
        _log_batch(self.mlflow, self.id, params=params, metrics=metrics, tags=tags)
        for path in files or []:
            if path.is_file():
                self.mlflow.log_artifact(self.id, str(path))

    def end(self, status: str = "completed") -> None:
        self.mlflow.set_terminated(self.id, STATUS.get(status, "FAILED"))


@INTEGRATIONS.register(NAME)
class MLflowIntegration(Integration):
    """MLflow tracking: params, per-epoch metrics, results, artifacts; parent runs for compare and tune."""

    def enabled(self, config: Config) -> bool:
        return config.logging.mlflow

    def run_hook(self, config: Config, paths: RunPaths) -> MLflowRun:
        return MLflowRun(config, paths)

    def group(self, config: Config, root: Path, name: str, group_id: str | None = None) -> MLflowGroup:
        return MLflowGroup(config, root, name, group_id)
