"""Integrations: outside services a run reports to (experiment trackers), as a registry.

An integration is registered once and the run layer calls it at a run's events; the workflow never
names one. Each registered :class:`Integration` decides from the config whether it is on, and gives

- per run a :class:`RunHook`: started before training, a callback (it sees every epoch's metrics) that is also
  told when the run ends (``on_run_end``, with the results), fails (``on_run_failed``, with the recorded error) or, finished,
  is evaluated again (``on_run_evaluated``, with the new results);
- per comparison or search a :class:`Group`: a parent record whose children are the runs started
  inside ``with groups(...)``; :func:`parent_of` gives a child hook its parent's id. Several processes may
  share one group (a search's workers): the last to leave closes it.

    @INTEGRATIONS.register("mlflow")
    class MLflowIntegration(Integration): ...

Hooks run on rank 0 alone under torchrun (``main_process_only``); the workflow calls ``on_run_end`` and
``on_run_failed`` only there.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from deepfeat.config import Config
from deepfeat.engine.callbacks import Callback
from deepfeat.layout import RunPaths
from deepfeat.registry import Registry

if TYPE_CHECKING:
    from deepfeat.run.results import Results


class RunHook(Callback):
    """What an integration does for one run: the trainer's events, then the run's end or failure."""

    main_process_only = True

    def start(self) -> None:
        """Open the run's record; called before training starts, so a slow start-up (a new tracking store) is not
        counted as training time."""

    def on_run_end(self, paths: RunPaths, results: "Results") -> None:
        """The run completed: ``results.json``, the report and ``model/`` are written."""

    def on_run_failed(self, paths: RunPaths, results: "Results") -> None:
        """The run stopped (failed, interrupted or pruned); ``results.error`` says why, ``results.status`` how."""

    def on_run_evaluated(self, paths: RunPaths, results: "Results") -> None:
        """The finished run was evaluated again (``deepfeat evaluate``): ``results.json`` holds ``results``."""


class Group:
    """A parent record for the runs of one comparison or search (children are the runs made inside it)."""

    id: str = ""

    def child_overrides(self) -> list[str]:
        """Dotted overrides every child run's config gets (e.g. the resolved tracking store), so it joins this group."""
        return []

    def log(self, params: dict[str, Any] | None = None, metrics: dict[str, float] | None = None,
            files: list[Path] | None = None, tags: dict[str, str] | None = None) -> None:
        """Record the group's settings, summary numbers and files (tables, reports)."""

    def end(self, status: str = "completed") -> None:
        """Close the group: ``completed``, ``failed`` or ``interrupted``."""


class Integration:
    """A registered integration: whether a config turns it on, its hook for a run, its group for many runs."""

    def enabled(self, config: Config) -> bool:
        return False

    def run_hook(self, config: Config, paths: RunPaths) -> RunHook:
        raise NotImplementedError

    def group(self, config: Config, root: Path, name: str, group_id: str | None = None) -> Group:
        """The parent record of the runs written under ``root``; ``group_id`` reopens an existing one."""
        raise NotImplementedError


INTEGRATIONS: Registry[Integration] = Registry("integration")

_PARENTS: ContextVar[dict[str, str]] = ContextVar("deepfeat_integration_parents", default={})


def run_hooks(config: Config, paths: RunPaths) -> list[RunHook]:
    """The hooks of every integration the config turns on, for the run in ``paths``."""
    return [i.run_hook(config, paths) for i in _enabled(config).values()]


def parent_of(name: str) -> str | None:
    """The id of the group the current run belongs to in integration ``name`` (None outside any group)."""
    return _PARENTS.get().get(name)


@contextmanager
def groups(config: Config, root: Path, name: str, ids: dict[str, str] | None = None,
           shared: Callable[[], bool] = lambda: False) -> Iterator[dict[str, Group]]:
    """Open the group of every enabled integration (reopening ``ids[name]`` where given); runs started inside
    are its children. Ends each group ``completed``, or ``failed`` / ``interrupted`` if the block raises, unless
    ``shared()`` says that other processes still work in it: then the last of them ends it."""
    opened = {n: i.group(config, root, name, (ids or {}).get(n)) for n, i in _enabled(config).items()}
    token = _PARENTS.set({**_PARENTS.get(), **{n: g.id for n, g in opened.items()}})
    try:
        yield opened
    except KeyboardInterrupt:
        _end(opened, "interrupted", shared)
        raise
    except Exception:
        _end(opened, "failed", shared)
        raise
    else:
        _end(opened, "completed", shared)
    finally:
        _PARENTS.reset(token)


def child_overrides(opened: dict[str, Group]) -> list[str]:
    """The overrides that make a run's config join every opened group."""
    return [o for g in opened.values() for o in g.child_overrides()]


def _enabled(config: Config) -> dict[str, Integration]:
    return {name: integration for name in INTEGRATIONS.names()
            if (integration := INTEGRATIONS.get(name)()).enabled(config)}


def _end(opened: dict[str, Group], status: str, shared: Callable[[], bool]) -> None:
    if opened and not shared():
        for g in opened.values():
            g.end(status)
