"""The one registry of evaluations: what each reads, requires, takes as settings, needs installed and writes.

Every evaluation, whether a pure function of features (the protocols: ``linear_probe``, ``knn``, ...) or one
of a run (``reconstruction``, ``anomaly``, ... registered by the run layer with ``reads="run"``), is one entry
of :data:`EVALUATIONS`; its :class:`EvaluationSpec` (the entry's ``meta``) declares

- ``reads``: ``"train+test"`` / ``"test"`` / ``"test_features"`` (the arrays a protocol takes positionally), or
  ``"run"`` (one run context);
- ``requires``: the capabilities a learner must declare for it (:mod:`deepfeat.learners.capabilities`);
- its settings: the keyword-only arguments of its function, checked by :meth:`EvaluationSpec.check_settings`,
  with ``defaults`` pinned here for the protocols (so a changed function default never changes what a recorded
  result means);
- ``extras``: the optional extras it imports (:mod:`deepfeat.extras`), fixed or as a function of the run;
- ``outputs``: the typed keys it writes under ``results.json`` ``evaluations.<name>``, which headline paths
  are checked against.

Registering an entry is all a new evaluation needs: config validation, ``deepfeat list evaluations``,
the protocol list and the headline checks read it from here.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

from deepfeat.errors import ConfigError
from deepfeat.registry import Registry, accepted_params, check_kwargs

Reads = Literal["run", "train+test", "test", "test_features"]
# How many positional arguments an evaluation takes for what it reads (the rest are its settings).
ARITY: dict[str, int] = {"run": 1, "train+test": 4, "test": 2, "test_features": 1}
# Keys a result's settings record about its inputs; they are not settings, so no evaluation may take one.
RECORD_KEYS = ("fingerprint", "train_samples", "eval_samples", "eval_split")
# The optional extras an evaluation needs: fixed, or as a function of the run (its data).
Extras = tuple[str, ...] | Callable[[Any], tuple[str, ...]]

EVALUATIONS: Registry[Callable[..., "dict[str, Any] | None"]] = Registry("evaluation", takes="positional")


@dataclass(frozen=True)
class EvaluationSpec:
    """What one evaluation declares (see the module doc); the ``meta`` of its :data:`EVALUATIONS` entry."""

    name: str
    fn: Callable[..., "dict[str, Any] | None"]
    reads: Reads
    outputs: Mapping[str, type]
    requires: frozenset[str] = frozenset()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    derived: tuple[str, ...] = ()  # settings it records but does not take (a protocol's solver, vote, ...)
    needs_labels: bool = False
    needs: tuple[tuple[str, str], ...] = ()  # (role, output) pairs a run evaluation reads through ctx.outputs
    extras: Extras = ()
    opt_in: bool = False  # costly (trains networks of its own): runs only when the config gives its settings
    # settings a learner declares for it, unless the config sets them: setting -> the learner's attribute
    # (retrieval's metric from ``Learner.neighbour_metric``)
    from_learner: Mapping[str, str] = field(default_factory=dict)

    @property
    def on_features(self) -> bool:
        """Whether it is a protocol: a pure function of the features, chosen by ``evaluation.protocol``."""
        return self.reads != "run"

    def check_settings(self, settings: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
        """The arguments it runs with: pinned defaults updated by ``settings`` (type-checked).

        ``settings`` may be a recorded result's settings: the keys that only describe the inputs
        (fingerprint, sample counts) or that the evaluation derives itself are dropped.
        """
        own = {k: v for k, v in (settings or {}).items() if k not in RECORD_KEYS + self.derived}
        return {**self.defaults, **check_kwargs(self.fn, own, where, skip=ARITY[self.reads])}

    def extras_for(self, ctx: Any) -> tuple[str, ...]:
        """The extras it needs for the run ``ctx`` (its data)."""
        return self.extras(ctx) if callable(self.extras) else tuple(self.extras)


def register_evaluation(name: str, *, reads: Reads, outputs: Mapping[str, type], aliases: tuple[str, ...] = (),
                        requires: tuple[str, ...] = (), defaults: Mapping[str, Any] | None = None,
                        derived: tuple[str, ...] = (), needs_labels: bool = False,
                        needs: tuple[tuple[str, str], ...] = (), extras: Extras = (), opt_in: bool = False,
                        from_learner: Mapping[str, str] | None = None, description: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` as the evaluation ``name`` with what it declares (:class:`EvaluationSpec`).

    Its settings are addressed as ``evaluation.settings.<name or alias>``: the registry refuses a name or alias
    already taken, and this refuses settings that collide with the recorded input keys, derived settings that
    are also arguments, and pinned defaults that are no argument.
    """
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        params = accepted_params(fn, skip=ARITY[reads]) or {}
        where = f"evaluation '{name}' at registration"
        clash = sorted(set(params) & set(RECORD_KEYS + derived))
        if clash:
            raise ConfigError(f"{where}: expected settings apart from the recorded keys {', '.join(RECORD_KEYS + derived)}, "
                              f"got {', '.join(clash)}. Rename the argument.")
        unknown = sorted((set(defaults or {}) | set(from_learner or {})) - set(params))
        if unknown:
            raise ConfigError(f"{where}: expected pinned defaults for its arguments ({', '.join(params) or 'none'}), "
                              f"got {', '.join(unknown)}. Pin only arguments of {fn.__name__}.")
        positional = [p for p in inspect.signature(fn).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(positional) != ARITY[reads]:
            raise ConfigError(f"{where}: expected {ARITY[reads]} positional argument(s) for what it reads ({reads}) "
                              f"and keyword-only settings, got {len(positional)}. Put its settings after a `*`.")
        spec = EvaluationSpec(name, fn, reads, dict(outputs), frozenset(requires), dict(defaults or {}), derived,
                              needs_labels, tuple(needs), extras, opt_in, dict(from_learner or {}))
        EVALUATIONS.add(name, fn, aliases=aliases, description=description, meta=spec)
        return fn

    return deco


def evaluation_spec(name: str, where: str = "evaluation") -> EvaluationSpec:
    """The declarations of the evaluation ``name`` (or an alias); an unknown name fails with the close match."""
    spec = EVALUATIONS.meta(name, where)
    if not isinstance(spec, EvaluationSpec):
        raise ConfigError(f"evaluation '{name}' at {where}: expected an entry with its declarations, got a bare "
                          "registry entry. Register it with deepfeat.eval.register_evaluation (or the run layer's "
                          "@evaluation), which declares what it reads and writes.")
    return spec


def protocol_names() -> list[str]:
    """The evaluations of features (``evaluation.protocol`` chooses among them), by name."""
    return [e.name for e in EVALUATIONS.entries() if e.meta.on_features]


def check_evaluation_settings(settings: Mapping[str, Mapping[str, Any]], where: str = "evaluation.settings") -> None:
    """Every entry of ``settings`` names a registered evaluation and gives only its settings, with the right types."""
    for name, own in settings.items():
        if not isinstance(own, Mapping):
            raise ConfigError(f"{where}.{name}: expected a mapping of its settings, got {own!r}")
        evaluation_spec(name, where).check_settings(own, f"{where}.{name}")
