"""The training loop: one explicit loop, observed by callbacks (docs/design.md section 3).

The trainer owns the order of things (batches, updates, schedules, validation, checkpoints) and
decides nothing about the math: that is the learner's ``update``.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch

from deepfeat.data.splits import DataBundle
from deepfeat.data.validation_policy import MonitorPlan, SchedulePlan, plan_monitor, plan_schedule
from deepfeat.engine.callbacks import Callback, is_better
from deepfeat.engine.device import resolve_device, resolve_precision, torch_threads
from deepfeat.engine.data_wait import DataWait
from deepfeat.engine.distributed import DistContext, all_ranks, any_rank, init_distributed
from deepfeat.engine.fit_batches import FitBatches
from deepfeat.engine.inference import Mean, evaluate_split
from deepfeat.engine.nonfinite import READ_EVERY, NonFiniteSteps
from deepfeat.engine.seeding import epoch_generator, rng_state, seed_everything, set_rng_state, step_seed
from deepfeat.errors import CheckpointError, ConfigError, TrainingError
from deepfeat.learners.base import Learner, StepContext
from deepfeat.optim.schedulers import build_scheduler
from deepfeat.schema import check_ranges, key

log = logging.getLogger("deepfeat")


@dataclass
class TrainingConfig:
    """How to train: the ``training:`` section of a config. ``epochs`` / ``batch_size`` left ``None`` are
    picked from the training split's size when a fit starts (:func:`~deepfeat.data.validation_policy.plan_schedule`)."""

    epochs: int | None = key(None, ge=1, help="passes over the training split; null (auto): about 3,000 steps, 10 to "
                                              "500 epochs")
    batch_size: int | None = key(None, ge=1, help="samples per training step (per process under torchrun); null (auto): "
                                                  "min(128, train samples)")
    eval_batch_size: int = key(1024, ge=1, help="samples per batch when validating, testing and embedding")
    grad_clip: float | None = key(None, gt=0, help="clip the gradients' global norm to this; null: no clipping")
    device: str = key("auto", help="auto (a GPU when one is visible, else cpu), cpu, cuda or cuda:N")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = key(
        "auto", help="auto chooses per device and model (recorded in results.json); the others force one")
    channels_last: bool | Literal["auto"] = key(
        "auto", help="channels-last memory layout for image batches; auto: where it pays (bf16 conv nets)")
    monitor: str = key("val/loss", help="the metric that picks the best epoch and drives early stopping, e.g. val/acc")
    mode: Literal["min", "max"] = key("min", help="whether monitor is better lower (min) or higher (max)")
    restore_best: bool = key(True, help="end with the best epoch's weights rather than the last epoch's")
    patience: int | None = key(None, ge=1, help="stop after this many epochs without improvement of monitor; null: "
                                                "never stop early")
    min_delta: float = key(0.0, ge=0, help="smallest change of monitor that counts as an improvement")
    max_nonfinite: int = key(5, ge=1, help="fail after this many consecutive steps with a non-finite loss (each is "
                                           "skipped)")
    checkpoint_every: int = key(1, ge=1, help="write checkpoints/last.pt every this many epochs")
    checkpoint_steps: int | None = key(None, ge=1, help="also write checkpoints/last.pt every this many steps within an "
                                                        "epoch (null: off), so a resume goes on at the exact sample")
    progress: Literal["auto", "bar", "line", "none"] = key(
        "auto", help="auto: a progress bar on a terminal, one line per epoch otherwise")
    threads: int | None = key(None, ge=1, help="torch CPU threads; null: torch's default")
    max_steps: int | None = key(None, ge=1, help="stop after this many updates in all (null: no limit); schedules span "
                                                 "the steps the run takes; training.epochs still caps the epochs")
    length_buckets: int = key(20, ge=0, help="token data: batches of similar-length texts, sorted within chunks of "
                                             "this many batches (0: off); the text encoders then compute only up to "
                                             "each batch's longest text")

    def __post_init__(self) -> None:
        check_ranges(self, "training")

    def resolved(self, n_train: int) -> tuple["TrainingConfig", SchedulePlan]:
        """This config with auto ``epochs`` / ``batch_size`` picked for ``n_train`` training samples, and the plan
        that says what was picked."""
        plan = plan_schedule(self.epochs, self.batch_size, n_train)
        return replace(self, epochs=plan.epochs, batch_size=plan.batch_size), plan

    def planned_epochs(self, steps_per_epoch: int) -> int:
        """Epochs the run will take: ``epochs``, fewer when ``max_steps`` ends it earlier (schedules span these)."""
        assert self.epochs is not None, "resolved() picks auto epochs before the run plans its schedule"
        if self.max_steps is None:
            return self.epochs
        return max(min(self.epochs, -(-self.max_steps // max(steps_per_epoch, 1))), 1)


@dataclass
class FitResult:
    """What a fit did: epochs and steps run, wall time, skipped steps, early stop, best epoch, and the
    monitoring ``plan`` it followed (``training.monitor`` / ``restore_best`` as the validation policy
    resolved them for this data; the caller's config is left as it was)."""

    epochs: int
    steps: int
    time_s: float
    skipped_steps: int
    stopped_early: bool
    best_epoch: int | None
    best: dict[str, float]
    plan: MonitorPlan
    history: list[dict[str, float]] = field(default_factory=list)


class Trainer:
    """Fits a learner on a :class:`DataBundle`; callbacks observe, the learner does the math."""

    def __init__(self, cfg: TrainingConfig | None = None, *, seed: int = 0, callbacks: list[Callback] | None = None,
                 extra_state: dict[str, Any] | None = None) -> None:
        self.given = cfg or TrainingConfig()  # as the caller wrote it: each fit resolves its auto values for its data
        self.cfg = self.given
        self.seed = seed
        self.callbacks = list(callbacks or [])
        self.extra_state = extra_state or {}
        self.dist = DistContext()  # one process until fit joins torchrun's group
        self.scaler: torch.amp.GradScaler | None = None  # fp16's loss scaler, made by fit
        self._reset()

    def _reset(self) -> None:
        """The state of a run that has not started: every fit starts from here (a second fit starts fresh)."""
        self.history: list[dict[str, float]] = []
        self.epoch = 0
        self.global_step = 0
        self.skipped_steps = 0
        self.epoch_step = 0  # steps taken in the current epoch (0 between epochs); a resume skips as many batches
        self.epoch_mean: Mean | None = None  # the current epoch's running training means
        self.data_wait = DataWait()
        self._nonfinite = NonFiniteSteps(self.given.max_nonfinite)  # the steps' device flags, until read
        self.should_stop = False
        self.stop_reason = ""
        self.improved = False
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        # What picks the kept epoch: the config's monitor / restore_best until fit resolves them for its data.
        self.plan = MonitorPlan(self.cfg.monitor, self.cfg.restore_best)
        # The epochs and batch size of the run, auto values picked for the data (set by fit).
        self.schedule = SchedulePlan(self.given.epochs or 0, self.given.batch_size or 0)
        self.planned_epochs = self.schedule.epochs  # fewer when training.max_steps ends the run earlier (set by fit)

    @property
    def last_checkpoint(self) -> Path | None:
        """The last checkpoint this fit wrote, as its checkpoint callback reports it (None before the first)."""
        return next((p for p in (cb.last_checkpoint() for cb in self.callbacks) if p is not None), None)

    # -- what callbacks may call -------------------------------------------------------------
    def stop(self, reason: str) -> None:
        """Ask the loop to end after this epoch (early stopping and the like)."""
        self.should_stop, self.stop_reason = True, reason
        self.log(reason)

    def log(self, message: str) -> None:
        log.info(message)

    def checkpoint_state(self) -> dict[str, Any]:
        """Everything an exact resume needs, as tensors and plain data; mid-epoch (``epoch_step`` > 0) also the
        epoch's running means, and ``epoch`` counts the finished epochs only."""
        mean = self.epoch_mean if self.epoch_step else None
        if mean is not None and self._nonfinite.pending:  # the flags of the steps so far, so the means saved are exact
            self._check_nonfinite(self.epoch, mean)
        return {
            "format": "deepfeat-checkpoint/1",
            "model": self.learner.state_dict(),
            "optimizers": [o.state_dict() for o in self.optimizers],
            "schedulers": [s.state_dict() for s in self.schedulers],
            "rng": rng_state(),
            "epoch": self.epoch + (0 if self.epoch_step else 1),
            "epoch_step": self.epoch_step,
            "epoch_mean": None if mean is None else {"sums": mean.sums, "n": mean.n},
            "global_step": self.global_step,
            "skipped_steps": self.skipped_steps,
            "history": self.history,
            "best": {"value": self.best_value, "epoch": self.best_epoch},
            "callbacks": [c.state_dict() for c in self.callbacks],
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            **self.extra_state,
        }

    # -- the loop --------------------------------------------------------------------------
    def fit(self, learner: Learner, data: DataBundle, *, optimizer: Any = "adam", schedule: Any = "constant",
            resume: dict[str, Any] | None = None) -> FitResult:
        """Train ``learner`` on ``data.train`` (validating on ``data.val``); resume from a checkpoint dict.

        A resume dict may hold ``best_model``: the best epoch's weights, which ``restore_best`` needs at the end
        when the best epoch is not the last (see :func:`deepfeat.engine.callbacks.best_weights`).

        Each fit starts fresh (history, steps, best epoch). ``training.threads`` holds for the fit alone: the
        process's torch thread count is put back when it ends, however it ends.
        """
        with torch_threads(self.given.threads):
            return self._fit(learner, data, optimizer, schedule, resume)

    def _fit(self, learner: Learner, data: DataBundle, optimizer: Any, schedule: Any,
             resume: dict[str, Any] | None) -> FitResult:
        self._reset()
        cfg, self.schedule = self.given.resolved(len(data.train))
        self.cfg = cfg
        self.dist = init_distributed()
        device = resolve_device(cfg.device)
        if self.dist.enabled and device.type == "cuda":
            device = torch.device("cuda", self.dist.local_rank)
        self.precision = resolve_precision(cfg.precision, device, learner, cfg.channels_last)
        self.learner = self.precision.prepare_model(learner)
        self.data = data
        self.steps_per_epoch = data.train.num_batches(cfg.batch_size, self._drop_last(), self.dist.world_size)
        self.optimizers = learner.configure_optimizers(optimizer)
        epochs = self.planned_epochs = cfg.planned_epochs(self.steps_per_epoch)
        self.schedulers = [build_scheduler(schedule, o, epochs=epochs, steps_per_epoch=max(self.steps_per_epoch // k, 1))
                           for o, k in zip(self.optimizers, self._update_intervals())]
        self._steps_taken = [0] * len(self.optimizers)
        for i, o in enumerate(self.optimizers):
            o.register_step_post_hook(lambda *_, i=i: self._count_step(i))
        self.plan = plan_monitor(cfg.monitor, cfg.restore_best, None if data.val is None else len(data.val))
        if self.plan.message and resume is None:
            log.warning(self.plan.message)
        self.scaler = self.precision.grad_scaler()
        start = self._resume(resume) if resume else 0
        ctx = StepContext(autocast=self.precision.autocast, grad_clip=cfg.grad_clip, forward=self._ddp_forward(),
                          all_ranks=all_ranks if self.dist.enabled else bool, scaler=self.scaler, any_rank=any_rank)
        self.learner.on_fit_start(FitBatches(data.train, cfg.batch_size, self.seed), self.precision.prepare_input,
                                  self.precision.autocast)
        t0 = time.perf_counter() - (self.history[-1]["time_s"] if self.history else 0.0)
        self._emit("on_fit_start")
        for epoch in range(start, epochs):
            self.epoch = epoch
            logs = self._run_epoch(epoch, ctx)
            logs = {"epoch": epoch + 1, "step": self.global_step, "time_s": time.perf_counter() - t0,
                    "data_wait": round(self.data_wait.share, 4),
                    "lr": self.schedulers[0].lr if self.schedulers else float("nan"), **logs}
            self._track_best(logs)
            for s in self.schedulers:
                s.step_epoch(logs)
            self.history.append(logs)
            self._emit("on_epoch_end", epoch, logs)
            if self.should_stop:
                break
        self._restore_best()
        self.learner.on_fit_end(FitBatches(data.train, cfg.batch_size, self.seed), self.precision.prepare_input,
                                self.precision.autocast)
        self._emit("on_fit_end")
        return FitResult(
            epochs=self.epoch + 1, steps=self.global_step, time_s=time.perf_counter() - t0,
            skipped_steps=self.skipped_steps, stopped_early=self.should_stop, best_epoch=self.best_epoch,
            best={self.plan.monitor: self.best_value} if self.best_value is not None else {}, plan=self.plan,
            history=self.history,
        )

    def _run_epoch(self, epoch: int, ctx: StepContext) -> dict[str, float]:
        skip, self.epoch_step = self.epoch_step, 0  # a resume mid-epoch goes on after the batches it had taken
        if self.dist.enabled and not skip:  # what the epoch's start draws (its steps are seeded one by one) differs
            seed_everything(((self.seed * 1_000_003 + epoch) * 4099 + self.dist.rank) % 2**63)  # per process too
        message = self.learner.on_epoch_start(epoch)
        if message:
            self.log(message)
        self._emit("on_epoch_start", epoch)
        self.learner.train()
        mean = self.epoch_mean if skip and self.epoch_mean else Mean(self.dist.enabled)
        self.epoch_mean, self.epoch_step = mean, skip
        self._nonfinite.new_epoch()
        batches = self.data.train.batches(self.cfg.batch_size, shuffle=True, generator=epoch_generator(self.seed, epoch),
                                          drop_last=self._drop_last(), rank=self.dist.rank, world_size=self.dist.world_size,
                                          buckets=self.cfg.length_buckets, skip=skip)
        for x, y in self.data_wait.timed(batches):
            if self.dist.enabled:  # each process its own dropout and noise, drawn from (seed, epoch, step, rank) alone:
                seed_everything(step_seed(self.seed, epoch, self.epoch_step, self.dist.rank))  # a resume redraws them
            batch = (self._input(x, epoch), None if y is None else y.to(self.precision.device, non_blocking=True))
            self._steps_taken = [0] * len(self.optimizers)
            lr = self.schedulers[0].lr if self.schedulers else float("nan")
            metrics = self.learner.update(batch, self.optimizers, ctx)
            self.global_step += 1
            self.epoch_step += 1
            skipped = metrics.get("skipped")  # a device flag: read every READ_EVERY steps, not here
            if skipped is not None:
                self._nonfinite.add(skipped, x.shape[0], lr)
            mean.add({k: v for k, v in metrics.items() if k != "skipped"}, x.shape[0], skipped)
            self._step_schedules()
            self._emit("on_step_end", metrics)
            if self.global_step % READ_EVERY == 0:
                self._check_nonfinite(epoch, mean)
            if self.cfg.max_steps is not None and self.global_step >= self.cfg.max_steps:
                break  # the epoch ends here (validation, logs, checkpoint), and so does the run
        self._check_nonfinite(epoch, mean)  # before validation and before any callback (a checkpoint) sees the epoch
        self.epoch_step = 0
        self.data_wait.end(epoch, self.data.train.num_workers)
        logs = mean.result("train")
        if self.data.val is not None:
            val = evaluate_split(self.learner, self.data.val, "val", self.precision, self.cfg.eval_batch_size, self.dist)
            self._emit("on_eval_end", val)
            logs.update(val)
        return logs

    def _input(self, x: torch.Tensor, epoch: int) -> torch.Tensor:
        """A training batch on the device, augmented there (``data.augment``, batched) before it takes the model's
        memory format; its draws come from (seed, epoch, step, rank): each process its own, a resume draws them again."""
        if self.data.augment is None:
            return self.precision.prepare_input(x)
        seed = step_seed(self.seed, epoch, self.epoch_step, self.dist.rank, stream=1)
        x = self.data.augment(x.to(self.precision.device, non_blocking=True), torch.Generator().manual_seed(seed))
        return self.precision.prepare_input(x)

    def _update_intervals(self) -> tuple[int, ...]:
        """Every how many batches each optimizer steps: a learner's ``update_intervals`` (a GAN's generator
        every ``n_critic``-th), else every batch; each schedule spans the steps its optimizer takes."""
        intervals = tuple(self.learner.update_intervals)
        return intervals if len(intervals) == len(self.optimizers) else (1,) * len(self.optimizers)

    def _count_step(self, i: int) -> None:
        self._steps_taken[i] += 1

    def _step_schedules(self) -> None:
        """Advance each schedule once per step its optimizer took in this update: a skipped step, or a
        generator resting between critic steps, did not happen, so its schedule waits."""
        for s, taken in zip(self.schedulers, self._steps_taken):
            for _ in range(taken):
                s.step_batch()

    def _drop_last(self) -> bool:
        # A last batch of one sample breaks batch norm in training mode; drop only that case.
        per_process = -(-len(self.data.train) // self.dist.world_size)
        return per_process % self.cfg.batch_size == 1

    def _ddp_forward(self) -> Any:
        """Under several processes: ``(method, batch) -> learner.<method>(batch)`` through DistributedDataParallel.

        By default one DDP wrapper syncs the whole learner. A learner whose ``update`` trains parts in
        turn (a GAN's critic and generator) names them in ``ddp_parts`` (``{method: (submodule names)}``):
        each part gets its own wrapper, so each backward all-reduces exactly the part it trains.
        """
        if not self.dist.enabled:
            return None
        parts = self.learner.ddp_parts
        if type(self.learner).update is not Learner.update and parts is None:
            raise ConfigError(
                f"learner {type(self.learner).__name__} under torchrun: expected a learner whose update runs "
                "through StepContext.call (the default update does) or that names its ddp_parts, got one with its "
                "own update that would skip DDP's gradient all-reduce. Train it on one process.")
        if parts is None:
            return self._wrap(None)
        # In the learner's order, the same on every rank (a set's order varies with each process's hash seed).
        wrappers = {names: self._wrap(names) for names in dict.fromkeys(parts.values())}
        return lambda method, batch: wrappers[parts[method]](method, batch)

    def _wrap(self, names: tuple[str, ...] | None) -> Any:
        from torch.nn.parallel import DistributedDataParallel

        modules = None if names is None else [m for m in (getattr(self.learner, n) for n in names) if m is not None]
        on_gpu = self.precision.device.type == "cuda"
        return DistributedDataParallel(
            _MethodCaller(self.learner, modules), device_ids=[self.precision.device.index] if on_gpu else None,
            find_unused_parameters=self.learner.find_unused_parameters)

    def _track_best(self, logs: dict[str, float]) -> None:
        value = logs.get(self.plan.monitor)
        self.improved = value is not None and is_better(value, self.best_value, self.cfg.mode)
        if self.improved:
            self.best_value, self.best_epoch = value, self.epoch + 1
            if self.plan.restore_best:
                self.best_state = copy.deepcopy(self.learner.state_dict())

    def _restore_best(self) -> None:
        """Put the best epoch's weights back (``restore_best``); refuse to go on without them rather than
        finish on other weights under the best epoch's name."""
        if not self.plan.restore_best or self.best_epoch is None or self.best_epoch == self.epoch + 1:
            return
        if self.best_state is None:
            raise CheckpointError(
                f"restore_best: expected the weights of the best epoch {self.best_epoch}, found none (the best "
                "checkpoint of the resumed run is missing or is not the one its last checkpoint names). Retrain, or "
                "set training.restore_best: false to keep the last epoch's weights.")
        self.learner.load_state_dict(self.best_state)

    def _check_nonfinite(self, epoch: int, mean: Mean) -> None:
        """Read the flags of the steps since the last read (one host read): count the dropped steps, take their
        samples out of the epoch's means, and stop the run at the step where ``max_nonfinite`` dropped steps in a
        row were reached, naming it."""
        found = self._nonfinite.read(self.global_step - self._nonfinite.pending + 1)
        self.skipped_steps += found.skipped
        mean.drop(found.dropped_samples)
        if found.failed_at is None:
            return
        self.global_step = found.failed_at
        where = f"the last good checkpoint is {self.last_checkpoint}" if self.last_checkpoint else "no checkpoint was written yet"
        raise TrainingError(
            f"training stopped at epoch {epoch + 1}, step {found.failed_at}: {self.cfg.max_nonfinite} non-finite losses "
            f"in a row (lr {found.lr:.3g}); {where}. Lower the learning rate, set training.grad_clip, or check the "
            "data for extreme values."
        )

    def _resume(self, state: dict[str, Any]) -> int:
        self.learner.load_state_dict(state["model"])
        for o, s in zip(self.optimizers, state["optimizers"]):
            o.load_state_dict(s)
        for sch, s in zip(self.schedulers, state["schedulers"]):
            sch.load_state_dict(s)
        for cb, s in zip(self.callbacks, state["callbacks"]):
            cb.load_state_dict(s)
        if self.scaler is not None and state.get("scaler"):  # an fp16 run goes on with the loss scale it had reached
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.global_step, self.skipped_steps = state["global_step"], state["skipped_steps"]
        self.history = list(state["history"])
        self.best_value, self.best_epoch = state["best"]["value"], state["best"]["epoch"]
        self.best_state = state.get("best_model")  # the best epoch's weights, when the caller could verify them
        self.epoch = state["epoch"] - 1
        self.epoch_step = state.get("epoch_step", 0)  # mid-epoch: that epoch goes on after its taken batches
        if state.get("epoch_mean"):
            self.epoch_mean = Mean(self.dist.enabled)
            self.epoch_mean.sums, self.epoch_mean.n = dict(state["epoch_mean"]["sums"]), state["epoch_mean"]["n"]
        return int(state["epoch"])

    def _emit(self, event: str, *args: Any) -> None:
        for cb in self.callbacks:
            if self.dist.is_main or not cb.main_process_only:
                getattr(cb, event)(self, *args)


class _MethodCaller(torch.nn.Module):
    """What DDP wraps: its forward runs a learner method, so any learner trains under DDP unchanged.

    DDP syncs the parameters and buffers of ``modules`` (default: the whole learner).
    """

    def __init__(self, learner: Learner, modules: list[torch.nn.Module] | None = None) -> None:
        super().__init__()
        self.synced = torch.nn.ModuleList(modules if modules is not None else [learner])
        self._learner = (learner,)  # in a tuple: not registered, so DDP sees only ``synced``

    def forward(self, method: str, batch: Any) -> Any:
        return getattr(self._learner[0], method)(batch)
