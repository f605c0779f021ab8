"""Hyperparameter search with Optuna: ``deepfeat tune CONFIG --space space.yaml --trials N``.

Each trial draws values for the space's dotted keys (TPE by default, seeded), trains them as an ordinary
run folder ``OUT/trial-NNNN`` and is scored by the config's monitored **validation** metric
(``training.monitor``, best epoch, ``training.mode`` giving the direction); every epoch's value is
reported to the trial, so the pruner (median or successive halving) stops unpromising trials early
(their folder says ``status: pruned``). The study lives in an Optuna RDB storage, by default SQLite in
``OUT/study.db``: running the same command again continues the study up to ``--trials`` finished
trials, and other processes (or machines, through any RDB URL given as ``--storage``) join it and run
trials of their own. Trials of a process that was killed are found by their stopped heartbeat, marked
failed and run again with the same values, so nothing is lost.

Outputs in ``OUT``: ``best.yaml`` (the best trial's config, ready for ``deepfeat fit``), ``trials.csv``
(every trial, also printed), ``study.html`` (Optuna's optimization history, parameter importances,
parallel coordinates and intermediate values, plotly.js inline: opens offline). With
``logging.mlflow: true`` the study is a parent MLflow run and each trial a child; the processes of a study share
the parent, and the last to leave closes it.
Needs the ``search`` extra (optuna, plotly), imported only here.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import socket
import warnings
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from filelock import lock_descriptor

from deepfeat.config import Config, load_config
from deepfeat.data.validation_policy import MIN_EPOCHS
from deepfeat.engine.callbacks import Callback
from deepfeat.engine.checkpoint import atomic_write
from deepfeat.errors import ConfigError, RunPruned
from deepfeat.extras import load
from deepfeat.layout import LOCK_FILE, plain_name
from deepfeat.run.integrations import Group, child_overrides, groups
from deepfeat.run.search_space import Param, check_space, read_space
from deepfeat.run.study_report import write_study_report
from deepfeat.run.trials import run_trial, trial_config

if TYPE_CHECKING:
    import optuna

    from deepfeat.engine.trainer import Trainer

log = logging.getLogger("deepfeat")

PRUNERS = ("median", "halving", "none")
HEARTBEAT_S = 10  # a running trial's heartbeat; one silent for GRACE_S belongs to a killed process
GRACE_S = 30


@dataclass
class TuneResult:
    """Where the search went: the study, its best trial (config, validation value, test metrics) and the outputs."""

    dir: Path
    study: "optuna.Study"
    monitor: str
    best_config: Config | None = None
    best_value: float | None = None
    best_trial: int | None = None
    best_test: dict[str, float] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best_yaml(self) -> Path:
        return self.dir / "best.yaml"

    @property
    def table(self) -> Path:
        return self.dir / "trials.csv"

    @property
    def report(self) -> Path:
        return self.dir / "study.html"


class ReportToTrial(Callback):
    """Report each epoch's monitored validation value to the Optuna trial; end the run when the pruner says so."""

    main_process_only = True

    def __init__(self, trial: "optuna.Trial") -> None:
        self.trial = trial

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, float]) -> None:
        value = logs.get(trainer.plan.monitor)
        if value is None or not math.isfinite(value):
            return
        self.trial.report(value, epoch + 1)
        last = epoch + 1 == trainer.cfg.epochs  # a trial that trained to the end is kept: pruning it saves nothing
        if not last and self.trial.should_prune():
            raise RunPruned(f"trial {self.trial.number} pruned after epoch {epoch + 1}: {trainer.plan.monitor} "
                            f"{value:.4g} is worse than the other trials at this epoch")


def optuna_module() -> Any:
    """``optuna``, or a ConfigError naming the extra to install."""
    return load("optuna", "search", "deepfeat tune")


def tune(config: Any, space: Any, *, trials: int = 20, timeout: float | None = None, seed: int | None = None,
         study: str | None = None, storage: str | None = None, pruner: Any = "median", out: str | Path | None = None,
         overrides: list[str] | tuple[str, ...] = (), runs_dir: str | Path = "runs",
         heartbeat: tuple[int, int] = (HEARTBEAT_S, GRACE_S)) -> TuneResult:
    """Search ``space`` (a YAML file or mapping of dotted keys) around ``config`` until the study has ``trials``
    finished (complete or pruned) trials, or ``timeout`` seconds pass; returns the best trial and the outputs.

    ``study`` names the study (default ``<config name>-tune``); ``out`` its folder (default
    ``runs/<study>``); ``storage`` any Optuna RDB URL (default ``sqlite:///OUT/study.db``). ``pruner`` is
    ``"median"``, ``"halving"``, ``"none"`` or an Optuna pruner object; ``heartbeat`` (interval, grace period
    in seconds) is how soon a killed process's trial is found and run again. Calling it
    again with the same study continues it; several processes may work on one study at once. Every input is
    checked before the first trial: a bad space is a ConfigError.
    """
    optuna = optuna_module()
    base = load_config(config, overrides)
    params = read_space(space)
    check_space(params, base)
    _check_args(trials, timeout, pruner)
    name = study or f"{base.name or base.data['name'] + '-' + base.learner['name']}-tune"
    root = Path(out) if out else Path(runs_dir) / plain_name(name, "--study" if study else "study name (config name + -tune)")
    root.mkdir(parents=True, exist_ok=True)
    the_study = _study(optuna, name, storage or f"sqlite:///{(root / 'study.db').resolve()}", base, params, seed,
                       pruner, heartbeat)
    with ExitStack() as stack:
        with _one_at_a_time(root):  # processes joining a new study at once must open one parent record, not one each
            opened = stack.enter_context(groups(base, root, name, the_study.user_attrs.get("tracking"),
                                                shared=lambda: _others_running(the_study)))
            the_study.set_user_attr("tracking", {n: g.id for n, g in opened.items()})
        _log_space(opened, params, name, trials, pruner)
        objective = _objective(base, params, root, child_overrides(opened))
        done = len(finished(the_study))
        if done < trials:
            the_study.optimize(objective, n_trials=trials - done, timeout=timeout, catch=(Exception,),
                               callbacks=[optuna.study.MaxTrialsCallback(trials, states=_finished_states(optuna))])
        result = summarize(the_study, base, params, root)
        _log_best(opened, result)
    return result


@contextmanager
def _one_at_a_time(root: Path) -> Iterator[None]:
    """Hold ``root/.lock`` (waiting for it) for the ``with`` block: the study's processes on this machine take turns."""
    with open(root / LOCK_FILE, "a") as f:
        lock_descriptor(f.fileno())  # released when the file closes, or the process dies
        yield


def _others_running(study: "optuna.Study") -> bool:
    """Whether another process still runs trials of the study (this process's trials are all told when it asks).

    A process that leaves while this is true leaves the study's parent records open; the last to leave closes
    them. Trials of a killed process, silent past the heartbeat's grace period, are failed first, so they do not
    keep the parent open.
    """
    import optuna

    with warnings.catch_warnings():  # "experimental" like the heartbeats it reads
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    return bool(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)))


def _check_args(trials: int, timeout: float | None, pruner: Any) -> None:
    if trials < 1:
        raise ConfigError(f"--trials: expected an integer >= 1, got {trials}")
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"--timeout: expected seconds > 0, got {timeout}")
    if isinstance(pruner, str) and pruner not in PRUNERS:
        raise ConfigError(f"--pruner: expected one of {', '.join(PRUNERS)}, got {pruner!r}")


def _finished_states(optuna: Any) -> tuple[Any, ...]:
    return (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def finished(study: "optuna.Study") -> list["optuna.trial.FrozenTrial"]:
    """The study's complete and pruned trials (those ``--trials`` counts)."""
    import optuna

    return study.get_trials(deepcopy=False, states=_finished_states(optuna))


def _study(optuna: Any, name: str, url: str, base: Config, params: list[Param], seed: int | None, pruner: Any,
           heartbeat: tuple[int, int]) -> "optuna.Study":
    """Create the study, or load it to continue; a study started with another space or metric is refused."""
    engine = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {}  # wait for the other writers
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since 2.8: the feature we rely on
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        store = optuna.storages.RDBStorage(
            url, engine_kwargs=engine, heartbeat_interval=heartbeat[0], grace_period=heartbeat[1],
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2))
    direction = "maximize" if base.training.mode == "max" else "minimize"
    existing = {s.study_name: s for s in optuna.get_all_study_summaries(store)}.get(name)
    # A process that joins (or continues) a study draws from its own seed (seed + pid), so processes working on
    # one study do not propose the same values; the process that creates the study draws from ``seed`` itself.
    offset = 0 if existing is None else os.getpid()
    sampler = optuna.samplers.TPESampler(seed=None if seed is None else (seed + offset) % 2**32)
    study = optuna.create_study(study_name=name, storage=store, sampler=sampler, pruner=_pruner(optuna, pruner, base),
                                direction=direction, load_if_exists=True)
    space = {p.key: p.describe() for p in params}
    recorded = study.user_attrs.get("space")
    if recorded is not None and (recorded != space or study.user_attrs.get("monitor") != base.training.monitor):
        raise ConfigError(f"study '{name}' in {url}: expected the space and monitor it was started with "
                          f"({recorded}, {study.user_attrs.get('monitor')}), got ({space}, {base.training.monitor}). "
                          "Give another --study name to start a new search")
    if recorded is None:
        study.set_user_attr("space", space)
        study.set_user_attr("monitor", base.training.monitor)
    return study


def _pruner(optuna: Any, name: Any, base: Config) -> Any:
    if not isinstance(name, str):  # an Optuna pruner given from Python
        return name
    if name == "median":  # no pruning before 5 trials finished, nor in a trial's first quarter of epochs
        epochs = base.training.epochs or MIN_EPOCHS  # auto epochs are at least MIN_EPOCHS
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max(1, epochs // 4))
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def _objective(base: Config, params: list[Param], root: Path, joined: list[str]) -> Any:
    """The function Optuna calls per trial: draw, train as a run folder, return the best validation value."""
    import optuna

    def objective(trial: optuna.Trial) -> float:
        values = {p.key: p.suggest(trial) for p in params}
        cfg = trial_config(base, values, joined)
        folder = root / f"trial-{trial.number:04d}"
        trial.set_user_attr("run_dir", str(folder.resolve()))
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # which process ran it
        outcome = run_trial(cfg, folder, [ReportToTrial(trial)])
        if isinstance(outcome.error, RunPruned):
            raise optuna.TrialPruned(str(outcome.error))
        if outcome.error is not None:
            raise outcome.error
        for key, value in (outcome.results.get("test") or {}).items():
            trial.set_user_attr(key, value)  # kept for the best trial's report; never used to choose
        best = outcome.results["fit"].get("best") or {}
        if not best:
            raise ConfigError(f"trial {trial.number}: expected the monitored metric {base.training.monitor} in the "
                              "run's metrics, got none. Set training.monitor to a metric the learner logs")
        return float(next(iter(best.values())))

    return objective


def summarize(study: "optuna.Study", base: Config, params: list[Param], root: Path) -> TuneResult:
    """Write best.yaml, trials.csv and study.html; print-ready rows; the best trial's validation value and test metrics."""
    result = TuneResult(root, study, base.training.monitor, rows=trial_rows(study, params))
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if complete:
        best = study.best_trial
        values = {p.key: p.value(best.params[p.key]) for p in params}
        result.best_config = trial_config(base, values)
        result.best_value, result.best_trial = best.value, best.number
        result.best_test = {k: v for k, v in best.user_attrs.items() if k.startswith("test/")}
        header = (f"# deepfeat tune: best of {len(complete)} complete trials of study '{study.study_name}': trial "
                  f"{best.number}, {base.training.monitor} {best.value:.6g} (validation)\n"
                  f"# run it: deepfeat fit -c {result.best_yaml}\n")
        text = header + result.best_config.to_yaml()
        atomic_write(result.best_yaml, lambda tmp: Path(tmp).write_text(text))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(result.rows[0]) if result.rows else ["number"])
    writer.writeheader()
    writer.writerows(result.rows)
    atomic_write(result.table, lambda tmp: Path(tmp).write_text(buf.getvalue()))
    write_study_report(study, result.report, base.training.monitor, result.best_test)
    return result


def trial_rows(study: "optuna.Study", params: list[Param]) -> list[dict[str, Any]]:
    """One row per trial: number, state, the validation value, the drawn values, epochs reported, time, run folder."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        duration = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None
        rows.append({"number": t.number, "state": t.state.name.lower(), "value": t.value,
                     **{p.key: t.params.get(p.key) for p in params},
                     "epochs": max(t.intermediate_values, default=None), "time_s": round(duration, 1) if duration else None,
                     "run_dir": t.user_attrs.get("run_dir", "")})
    return rows


def table_text(rows: list[dict[str, Any]]) -> str:
    """The trials as aligned plain text (what the CLI prints)."""
    if not rows:
        return "no trials"
    header = list(rows[0])[:-1]  # the run folders are in trials.csv
    cells = [[_cell(r[h]) for h in header] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = [header, *cells]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _log_space(opened: dict[str, Group], params: list[Param], name: str, trials: int, pruner: Any) -> None:
    for group in opened.values():
        group.log(params={**{f"space.{p.key}": p.describe() for p in params}, "trials": trials, "pruner": str(pruner)},
                  tags={"deepfeat.kind": "tune", "deepfeat.study": name})


def _log_best(opened: dict[str, Group], result: TuneResult) -> None:
    if result.best_value is None:
        return
    study = result.study
    for group in opened.values():
        group.log(metrics={f"best/{result.monitor}": result.best_value, **{f"best/{k}": v for k, v in result.best_test.items()},
                           "trials/complete": sum(r["state"] == "complete" for r in result.rows),
                           "trials/pruned": sum(r["state"] == "pruned" for r in result.rows)},
                  tags={"deepfeat.best_trial": str(result.best_trial),
                        **{f"best.{k}": str(v) for k, v in study.best_trial.params.items()}},
                  files=[result.best_yaml, result.table, result.report])
