"""What happens to a run: fit, resume, finish (export, evaluate, plot, report), and the later passes over a
finished run (evaluate again, export, re-report). :mod:`deepfeat.api` is the public face over it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import shutil
import sys
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any, Callable

from deepfeat.atomic import is_disk_full
from deepfeat.config import Config, load_config
from deepfeat.data.info import DataInfo
from deepfeat.data.splits import DataBundle
from deepfeat.engine.callbacks import Callback, CSVLogger, EarlyStopping, ModelCheckpoint, best_weights
from deepfeat.engine.checkpoint import (atomic_write, checksum_path, load_checkpoint, remove_stale_temps, write_checksum,
                                       write_verified)
from deepfeat.engine.device import resolve_device, resolve_precision, torch_threads
from deepfeat.engine.diagnostics import Diagnostics, find_callback
from deepfeat.engine.distributed import broadcast_object, init_distributed, local_only
from deepfeat.engine.preflight import Preflight
from deepfeat.engine.progress import Phases, Progress
from deepfeat.engine.seeding import seed_everything
from deepfeat.engine.summary import model_summary
from deepfeat.engine.trainer import FitResult, Trainer
from deepfeat.errors import CheckpointError, ConfigError, DataError, DeepfeatError, RunPruned, UnknownNameError
from deepfeat.eval.diagnose import diagnose as diagnose_stats
from deepfeat.layout import FAILED_MODEL_DIR, RunPaths, new_run_dir
from deepfeat.learners.base import Learner
from deepfeat.learners.build import build_learner, check_declarations
from deepfeat.reports.diag_plots import save_diagnostic_plots, save_lr_find_plot
from deepfeat.reports.html import write_report
from deepfeat.reports.plots import plot_training_curves_to
from deepfeat.run.evaluations.features import (check_protocols, evaluate_learner, feature_needs, plot_features,
                                               plot_protocol)
from deepfeat.run.integrations import RunHook, run_hooks
from deepfeat.run.lock import check_unlocked, refuse_existing_run, run_lock
from deepfeat.run.model_io import encoder_to_build, export_model, export_onnx, unregistered
from deepfeat.run.results import (Results, Status, check_finite_weights, data_summary, fit_summary, print_summary,
                                  read_results_file, write_results)
from deepfeat.run.produce import (build_observers, check_extras, declared_needs, draw_figures, headline,
                                  observer_results, run_evaluations)
from deepfeat.run.registries import RunContext, check_settings
from deepfeat.run.runs import (Run, inference_precision, load, load_data, resolved_data, restore_config, restore_model,
                               set_aside_failed_model, split_python_encoder, with_data)

log = logging.getLogger("deepfeat")

_FIT_FIX = "Wait for it, or use another --out."
_RESUME_FIX = "Wait for it to end; one process at a time trains a run."
_WRITE_FIX = "Wait for it to end; one process at a time writes a run folder."


def fit(config: Any = None, *, data: Any = None, test: Any = None, out: str | Path | None = None,
        overrides: list[str] | tuple[str, ...] = (), runs_dir: str | Path = "runs",
        callbacks: list[Callback] | None = None) -> Run:
    """Validate a config, train, evaluate, plot and report; returns the :class:`Run`.

    ``config`` is a YAML file, a mapping or a :class:`Config` (None: the defaults); in a mapping ``encoder`` may
    also be your own ``nn.Module`` (an instance, a class or a factory). ``data`` trains on other data than the
    config's dataset, split and normalized as configured: samples in memory (``X`` or ``(X, y)``, numpy or torch),
    or a folder or file, a dataset name or a spec, as ``deepfeat fit --data`` takes them (:func:`with_data`);
    ``test`` (likewise) is kept as the test split. ``out`` is the run folder (created); by default a new
    ``runs/<name>-<time>`` folder. The folder is locked while the run lasts: a folder in use or already
    holding a run is refused (ConfigError).
    """
    config, encoder = split_python_encoder(config)
    cfg, data = with_data(load_config(config, overrides), data)
    check_settings(cfg)
    dist = init_distributed()
    if out is not None:  # refused before the data loads: the answer must not wait for it
        _on_main(dist, lambda: _check_free(Path(out)))
    bundle, learner = _prepare(cfg, data, test, encoder)
    with ExitStack() as owner:  # rank 0 holds the folder's lock until the run has ended, however it ends
        root = _on_main(dist, lambda: str(_claim(_scheduled(cfg, bundle), out, runs_dir, owner)))
        with torch_threads(cfg.training.threads):  # the evaluation after training too, not the fit alone
            return _train(cfg, bundle, learner, RunPaths(Path(root)), None, callbacks)


def check_config(config: Any, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Everything :func:`fit` checks before it trains, without a run folder: the config, its data resolved
    against the files (and split), the learner built on them, and the optional extras the learner's evaluations
    and figures need. A config that passes trains; raises the first problem as a deepfeat error."""
    config, encoder = split_python_encoder(config)
    cfg = load_config(config, overrides)
    check_settings(cfg)
    _prepare(cfg, None, None, encoder)
    return cfg


def _prepare(cfg: Config, data: Any, test: Any, encoder: Any) -> tuple[DataBundle, Learner]:
    """The run's data and learner, seeded; its declarations checked (evaluations, headline), its declared evaluations
    and figures for missing extras and its feature protocols for settings the data cannot meet."""
    seed_everything(cfg.seed)
    bundle = load_data(cfg, data, test)
    learner = build_learner(cfg.learner, bundle.info, encoder or cfg.encoder, cfg.regularization)
    check_declarations(learner)  # a wrong headline path of the user's own learner fails here, not in its report
    precision = resolve_precision("fp32", resolve_device("cpu"), learner)  # unused by the check; the model is not moved
    check_extras(RunContext(learner, bundle, precision, cfg), cfg.logging.plots)
    check_protocols(bundle, cfg.evaluation)
    return bundle, learner


def resume(run_dir: str | Path, callbacks: list[Callback] | None = None, *, data: Any = None, test: Any = None,
           encoder: Any = None) -> Run:
    """Continue a run from ``checkpoints/last.pt``; ends with the weights an uninterrupted run would have.

    A run trained on samples in memory takes them again as ``data`` / ``test``, and one trained with a module
    passed as a Python object takes that module again as ``encoder`` (class, factory or instance, as
    :func:`~deepfeat.run.runs.load` takes it). Refuses (ConfigError) a run folder another process is using and a
    run that already finished.
    """
    dist = init_distributed()
    paths = RunPaths(Path(run_dir))
    with ExitStack() as owner:
        _on_main(dist, lambda: _take_over(paths, owner))
        state = load_checkpoint(paths.last)
        _on_main(dist, lambda: _complete_sidecar(paths.last))
        state["best_model"] = best_weights(state, paths.checkpoints)  # the in-memory best was lost with the old process
        try:
            cfg = Config.from_dict(state["config"])
        except UnknownNameError as e:  # the user's own piece, its module not imported
            raise unregistered(e, paths.last) from None
        _on_main(dist, lambda: restore_config(paths, cfg))
        bundle, learner = _prepare(cfg, data, test, encoder_to_build(cfg.encoder, encoder, paths.last))
        with torch_threads(cfg.training.threads):
            return _train(cfg, bundle, learner, paths, state, callbacks)


def _writes_run(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Hold the run folder's lock (its first argument) while ``fn`` writes into it: every writer of a run folder
    holds it, so ``resume`` knows that temporaries it finds belong to a dead process."""
    @functools.wraps(fn)
    def locked(run_dir: str | Path, *args: Any, **kwargs: Any) -> Any:
        with run_lock(Path(run_dir) if Path(run_dir).is_dir() else None, _WRITE_FIX):
            return fn(run_dir, *args, **kwargs)
    return locked


def _on_main(dist: Any, fn: Callable[[], Any]) -> Any:
    """``fn()`` on rank 0, its result, or the deepfeat error it raised, shared with every rank (a rank that
    waited for a result that never comes would hang)."""
    result = error = None
    if dist.is_main:
        try:
            result = fn()
        except DeepfeatError as e:
            error = e
    result, error = broadcast_object((result, error))
    if error is not None:
        raise error
    return result


def _check_free(root: Path) -> None:
    """Refuse an existing ``root`` that another process holds or that already holds a run."""
    check_unlocked(root, _FIT_FIX)
    refuse_existing_run(root)


def _claim(cfg: Config, out: str | Path | None, runs_dir: str | Path, owner: ExitStack) -> Path:
    """The new run's folder, created and locked for as long as ``owner`` lasts, holding the resolved config."""
    root = Path(out) if out is not None else new_run_dir(Path(runs_dir), cfg.name or f"{cfg.data['name']}-{cfg.learner['name']}")
    owner.enter_context(run_lock(root, _FIT_FIX))
    refuse_existing_run(root)  # again under the lock: another run may have ended in it since _check_free
    write_verified(RunPaths(root).config, lambda tmp: Path(tmp).write_text(cfg.to_yaml()))
    return root


def _take_over(paths: RunPaths, owner: ExitStack) -> None:
    """Lock an interrupted or failed run's folder for ``owner`` and clear the temporaries its crash left."""
    if not paths.root.is_dir():
        raise CheckpointError(f"run folder {paths.root}: not found. Pass the folder `deepfeat fit` printed.")
    owner.enter_context(run_lock(paths.root, _RESUME_FIX))
    # Every writer of a run folder holds its lock, so whatever temporaries are there now belong to a dead one.
    for path in remove_stale_temps(paths.root):
        log.info(f"removed {path}, left by an interrupted write")
    _refuse_finished(paths)
    if not paths.last.is_file():
        raise CheckpointError(f"run {paths.root} has no checkpoint to resume from: expected {paths.last}, found none "
                              f"(the run stopped before its first checkpoint). Start it again: `deepfeat fit -c "
                              f"{paths.config} --out NEW_FOLDER`.")


def _complete_sidecar(path: Path) -> None:
    """Write the sha256 sidecar of a checkpoint that was killed between its rename and its sidecar, once it has
    loaded whole: a finished resume may never write that checkpoint again, and it would stay unchecked."""
    if not checksum_path(path).is_file():
        write_checksum(path)
        log.info(f"wrote the missing checksum of {path} (the last write stopped before it)")


def _refuse_finished(paths: RunPaths) -> None:
    """ConfigError when results.json says the run completed: resuming it would only evaluate it again."""
    try:
        results = read_results_file(paths)
    except DataError:  # a damaged results.json: the resumed run writes a new one
        return
    if results is not None and results.status == "completed":
        epochs = results.fit.get("epochs", "?")
        longer = f"training.epochs={2 * epochs}" if isinstance(epochs, int) else "training.epochs=M"
        raise ConfigError(
            f"run {paths.root} already finished ({epochs} epochs): resume continues interrupted or failed runs. "
            f"Use `deepfeat evaluate {paths.root}` to re-evaluate it, or `deepfeat fit -c {paths.config} --set "
            f"{longer} --out NEW_FOLDER` for a longer run.")


def _callbacks(cfg: Config, paths: RunPaths, observers: list[Callback], extra: list[Callback] | None) -> list[Callback]:
    t = cfg.training
    cbs: list[Callback] = [Progress(t.progress), CSVLogger(paths.metrics)]
    if t.patience is not None:
        cbs.append(EarlyStopping(None, t.patience, t.mode, t.min_delta))  # the monitor the trainer resolves
    if cfg.logging.tensorboard:
        from deepfeat.engine.tensorboard import TensorBoardLogger

        cbs.append(TensorBoardLogger(paths.root / "tensorboard"))
    if cfg.diagnostics.enabled:
        cbs += [Preflight(cfg.diagnostics, cfg.optimizer)] if cfg.diagnostics.preflight else []
        cbs.append(Diagnostics(cfg.diagnostics))
    # The checkpoint comes after every callback that updates its own state at the end of an epoch (early
    # stopping, a GAN's sample strip), so a resume continues from the state the epoch ended with.
    checkpoint = ModelCheckpoint(paths.checkpoints, t.checkpoint_every, t.checkpoint_steps)
    return cbs + observers + [checkpoint] + list(extra or [])


def _train(cfg: Config, data: DataBundle, learner: Learner, paths: RunPaths, state: dict[str, Any] | None,
           extra: list[Callback] | None) -> Run:
    given, cfg = cfg.training, _scheduled(cfg, data)  # the trainer picks auto values again and says so in its banner
    if state is None and init_distributed().is_main:
        _write_summary(learner, data.info, paths, cfg.training.progress != "none")
    observers = build_observers(learner, paths.root)
    hooks = run_hooks(cfg, paths)  # integrations (tracking): they see the epochs, then the run's end or failure
    trainer = Trainer(given, seed=cfg.seed, callbacks=_callbacks(cfg, paths, [*observers.values(), *hooks], extra),
                      extra_state={"config": cfg.to_dict(), "data_info": data.info.to_dict()})
    try:
        # Rank 0's trackers start before the fit's clock does: their start-up (seconds for a new store) is not training.
        for hook in hooks if init_distributed().is_main else ():
            hook.start()
        fit_result = trainer.fit(learner, data, optimizer=cfg.optimizer, schedule=cfg.schedule, resume=state)
    except (Exception, KeyboardInterrupt) as error:  # the run folder says why it failed, then the error goes on
        if trainer.dist.is_main:  # rank 0 alone writes
            _record_failure(error, cfg, data.info, paths, trainer, hooks)
        raise
    if not trainer.dist.is_main:  # rank 0 alone exports, evaluates and reports
        return Run(paths.root, cfg, data.info, learner, Results())
    with local_only():  # ... as one process: its auxiliary trainings must not wait for the other ranks
        try:
            run = _finish(cfg, data, learner, paths, trainer, fit_result, observers)
            for hook in hooks:
                hook.on_run_end(paths, run.results)
        except (Exception, KeyboardInterrupt) as error:  # trained, then export/evaluation failed: say so too
            _record_failure(error, cfg, data.info, paths, trainer, hooks, phase="after training")
            raise
    if cfg.training.progress != "none":  # where the report is, with the progress the run printed (the CLI: always)
        print_summary(run.dir, run.results, cfg.logging.report)
    return run


def _scheduled(cfg: Config, data: DataBundle) -> Config:
    """``cfg`` with auto ``training.epochs`` / ``batch_size`` picked for its training split and the data settings its
    source resolved from the files (an image folder's ``grayscale``): what config.yaml and the checkpoints record, so
    that a resume trains the same schedule and an apply command reads new files the same way."""
    return dataclasses.replace(cfg, training=cfg.training.resolved(len(data.train))[0],
                               data=resolved_data(cfg.data, data.info))


def _write_summary(learner: Learner, info: DataInfo, paths: RunPaths, show: bool) -> None:
    """``model_summary.txt`` (layers, output shapes, parameters; the report shows it), printed when progress is shown."""
    text = model_summary(learner, info)
    atomic_write(paths.summary, lambda tmp: Path(tmp).write_text(text + "\n"))
    if show:
        print(text, file=sys.stderr, flush=True)


def _finish(cfg: Config, data: DataBundle, learner: Learner, paths: RunPaths,
            trainer: Trainer, fit_result: FitResult, observers: dict[str, Any]) -> Run:
    """After training: export, evaluate, write results, plot and report."""
    check_finite_weights(learner, fit_result.skipped_steps)
    phases = Phases(cfg.training.progress)
    with phases("export model"):
        export_model(learner, data.info, cfg.learner, cfg.encoder, paths.model)
    shutil.rmtree(paths.root / FAILED_MODEL_DIR, ignore_errors=True)  # an earlier attempt's, set aside when it failed
    with phases("diagnostics") if cfg.diagnostics.enabled else nullcontext():
        base = Results(data=data_summary(data.info), fit=fit_summary(fit_result, trainer, learner),
                       evaluations=observer_results(observers), **_diagnostics(trainer.callbacks, cfg, paths.root))
    results = _evaluate(learner, data, cfg, trainer.precision, paths, base, phases)
    return Run(paths.root, cfg, data.info, learner, results)


def _evaluate(learner: Learner, data: DataBundle, cfg: Config, precision: Any, paths: RunPaths,
              previous: Results, phases: Any = None) -> Results:
    """Test metrics, feature protocols and the learner's declared evaluations joined to ``previous``; results.json,
    then the figures (standard and declared) and the report; each phase announced by ``phases``."""
    phases = phases or Phases(cfg.training.progress)
    ctx = RunContext(learner, data, precision, cfg, paths.root, dict(previous.evaluations or {}), phase=phases)
    # Every split is forwarded once, for everything the run will read of it (declared by each evaluation and figure).
    ctx.outputs.want(feature_needs(data, cfg.evaluation, cfg.logging.plots) + declared_needs(ctx, cfg.logging.plots))
    with phases(f"test metrics, {', '.join(cfg.evaluation.protocol) or 'no'} protocols"):
        measured, features = evaluate_learner(learner, data, cfg.evaluation, precision, cfg.training.eval_batch_size,
                                              ctx.outputs)
    ctx.results.update(measured["evaluations"])
    run_evaluations(ctx)
    # "finishing" until the figures and the report are on disk: a run killed before then is resumed, not finished.
    results = dataclasses.replace(previous, status="finishing", test=measured["test"], evaluations=ctx.results)
    results.headline = headline(learner, results.to_dict())
    write_results(paths, results)
    if cfg.logging.plots:
        with phases("figures: training curves, feature maps"):
            plot_training_curves_to(paths.root)
            if features is not None and len(features.z) and cfg.evaluation.embedding_plots:
                plot_features(paths.root, features, data.info.class_names, cfg.evaluation, cfg.seed)
            plot_protocol(paths.root, results.evaluations)
        draw_figures(ctx)
    if cfg.logging.report:
        with phases("report"):
            write_report(paths.root)
    results.status = "completed"
    write_results(paths, results)  # last: a run is completed only when everything it promised is on disk
    return results


def _diagnostics(callbacks: list[Callback], cfg: Config, root: Path) -> dict[str, Any]:
    """Findings of the diagnostics callbacks, logged as warnings and plotted; {} when diagnostics are off."""
    diag, pre = find_callback(callbacks, Diagnostics), find_callback(callbacks, Preflight)
    if diag is None:
        return {}
    diag.finish()
    preflight = pre.result if pre is not None and pre.result is not None else None
    findings = diagnose_stats(diag.stats, cfg.diagnostics, preflight.findings if preflight else ())
    logged = set(preflight.findings) if preflight else set()  # pre-flight warnings were logged at the start
    for f in findings:
        if f.severity == "warning" and f not in logged:
            log.warning(f"diagnostics: {f}")
    if cfg.logging.plots:
        save_diagnostic_plots(root, diag.stats)
        if preflight and preflight.lr_test:
            save_lr_find_plot(root, preflight.lr_test, diag.stats.context.get("lr"))
    extra = {"preflight": {"profile": preflight.profile}} if preflight else {}
    if preflight and preflight.lr_test:
        extra["preflight"]["lr_test"] = preflight.lr_test.to_dict()
    return {"diagnostics": [f.to_dict() for f in findings], **extra}


def _status(error: BaseException) -> Status:
    """How a run that did not complete ended: interrupted (Ctrl-C), pruned (a search stopped it), else failed."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return "pruned" if isinstance(error, RunPruned) else "failed"


def _record_failure(error: BaseException, cfg: Config, info: DataInfo, paths: RunPaths, trainer: Trainer,
                    hooks: list[RunHook], phase: str = "training") -> None:
    """Write results.json with status "failed", "interrupted" or "pruned", then the curves and the report; tell
    the integrations.

    It holds the error, the phase ("training", or "after training": export, evaluation, plots), where
    training stopped, the last checkpoint and the diagnostics verdicts.
    Never masks ``error``: the caller re-raises it.
    """
    try:
        last = trainer.last_checkpoint or (paths.last if paths.last.exists() else None)
        history = trainer.history
        results = Results(
            status=_status(error),
            error={"type": type(error).__name__, "message": str(error), "phase": phase, "epoch": trainer.epoch + 1,
                   "step": trainer.global_step, "last_checkpoint": str(last) if last else None},
            data=data_summary(info),
            fit={"epochs": len(history), "steps": trainer.global_step, "skipped_steps": trainer.skipped_steps,
                 "time_s": round(history[-1]["time_s"], 3) if history else None},
            **_diagnostics(trainer.callbacks, cfg, paths.root),  # the verdicts often explain the failure
        )
        write_results(paths, results)
        set_aside_failed_model(paths, results)
        if cfg.logging.plots and history:
            plot_training_curves_to(paths.root)
        if cfg.logging.report:
            write_report(paths.root)
        for hook in hooks:
            hook.on_run_failed(paths, results)
    except Exception as e:  # noqa: BLE001 -- recording is best effort: the original error is what the user must see
        if not (is_disk_full(error) and is_disk_full(e)):  # a full disk cannot take the record either: one line is enough
            log.warning(f"could not record the failure in {paths.root}: {type(e).__name__}: {e}")


@_writes_run
def evaluate(run_dir: str | Path, data: Any = None, protocol: str | list[str] | None = None, *,
             test: Any = None, encoder: Any = None) -> Results:
    """Re-run the evaluation of a finished run (optionally on other data) and update results.json.

    ``data`` is a dataset name, file or ``{name: ...}`` spec, or samples in memory (``X`` / ``(X, y)``,
    with an optional ``test`` likewise), as :func:`fit` takes them. ``protocol``
    (``"linear,knn,cluster,fewshot,health"`` or a list) replaces the config's ``evaluation.protocol``;
    new results join those already recorded (each with its settings). ``encoder``: the module of a run
    trained with one passed as a Python object, as :func:`~deepfeat.run.runs.load` takes it.
    """
    run = load(run_dir, rebuild_results=True, encoder=encoder)
    cfg, data = with_data(run.config, data)
    if protocol is not None:
        names = protocol.split(",") if isinstance(protocol, str) else list(protocol)
        cfg = load_config(cfg, [f"evaluation.protocol={json.dumps([n.strip() for n in names])}"])
    bundle = load_data(cfg, data, test)
    precision = inference_precision(run.learner, cfg.training.device)
    results = _evaluate(run.learner, bundle, cfg, precision, run.paths, run.results)
    for hook in run_hooks(run.config, run.paths):  # the run's trackers record the new results
        hook.on_run_evaluated(run.paths, results)
    return results


@_writes_run
def export(run_dir: str | Path, format: str = "safetensors", out: str | Path | None = None) -> Path:
    """Export a run's model: ``safetensors`` (+ JSON architecture) or ``onnx`` (raw input -> features).

    A missing or damaged ``model/`` of a completed run is first rebuilt from its checkpoint.
    """
    source = restore_model(run_dir)
    if source is not None:
        log.warning(f"model/ of {run_dir} was missing or damaged: rebuilt it from {source}")
    run = load(run_dir)
    if format == "safetensors":
        target = Path(out) if out else run.paths.model
        return export_model(run.learner, run.info, run.config.learner, run.config.encoder, target)
    if format == "onnx":
        return export_onnx(run.learner, run.info, Path(out) if out else run.paths.model / "model.onnx")
    raise ConfigError(f"export format: expected safetensors or onnx, got {format!r}")


@_writes_run
def report(run_dir: str | Path) -> Path:
    """Re-draw the training curves and rebuild ``report.html`` for a run folder."""
    root = Path(run_dir)
    plot_training_curves_to(root)
    return write_report(root)


