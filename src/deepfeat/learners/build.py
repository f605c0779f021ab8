"""The learner registry and the one function that builds a learner from config specs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.eval.evaluations import EVALUATIONS, evaluation_spec
from deepfeat.learners.base import Learner
from deepfeat.nn.regularizers import REGULARIZERS
from deepfeat.registry import Registry
from deepfeat.typecheck import hints

LEARNERS: Registry[Learner] = Registry("learner", takes=2)


def build_learner(spec: Any, info: DataInfo, encoder: Any = "mlp", regularization: Any = None) -> Learner:
    """Build a registered learner for data described by ``info``.

    Every learner factory takes ``(info, encoder_spec, **its_own_args)``, so a learner decides how
    to use the encoder spec (a classifier wraps it; an autoencoder mirrors it into a decoder). In Python,
    ``spec`` may also be the user's own learner class or factory with that signature, as an encoder may be.
    """
    if callable(spec) and not isinstance(spec, nn.Module):
        learner = spec(info, encoder)
        if not isinstance(learner, Learner):
            raise ConfigError(f"learner factory at learner: expected it to return a deepfeat Learner, got "
                              f"{type(learner).__name__} from {getattr(spec, '__name__', spec)!r}. Return an instance "
                              "of a subclass of deepfeat.learners.base.Learner.")
    else:
        learner = LEARNERS.build(spec, info, encoder, where="learner")
    if regularization is not None:
        learner.penalty = REGULARIZERS.build(regularization, where="regularization")
    return learner


def declared_by(spec: Any) -> Learner | type[Learner] | None:
    """What holds the declarations of the learner ``spec`` (``capabilities``, ``evaluations``, ``figures``,
    ``observers``, ``headline``: class attributes), found without building it.

    The registered class, the user's class or instance, or the Learner subclass a factory's return annotation
    names (``def denoising(...) -> DenoisingAutoencoder``); ``None`` when a factory does not say (known once built).
    """
    if isinstance(spec, Learner):
        return spec
    if isinstance(spec, (str, Mapping)):
        spec = LEARNERS.get(LEARNERS.split_spec(spec, "learner")[0])
    made = spec if isinstance(spec, type) else hints(spec).get("return")
    return made if isinstance(made, type) and issubclass(made, Learner) else None


def declared_capabilities(spec: Any) -> frozenset[str] | None:
    """What the learner ``spec`` declares it can do (``Learner.capabilities``), read without building it
    (see :func:`declared_by`); ``None`` when a factory does not say."""
    holder = declared_by(spec)
    return holder.capabilities if holder is not None else None


def check_declarations(spec: Any, where: str = "learner") -> None:
    """ConfigError unless what the learner ``spec`` declares holds together, read without building it: each declared
    evaluation is registered and requires only capabilities it declares, and each ``headline`` path names a number
    an evaluation it runs writes (``evaluations.<name>.<output>``, among the declared outputs of a feature protocol
    or of one of its evaluations) or a test metric (``test.test/<metric>``). A factory that does not name its
    class is checked once built."""
    holder = declared_by(spec)
    if holder is None:
        return
    for name in holder.evaluations:
        missing = evaluation_spec(name, f"{where} evaluations").requires - holder.capabilities
        if missing:
            raise ConfigError(f"evaluation '{name}' at {where} evaluations: expected a learner that declares "
                              f"{', '.join(sorted(missing))}, got capabilities {', '.join(sorted(holder.capabilities))}. "
                              "Declare the capability (and its methods) or drop the evaluation.")
    runs = {EVALUATIONS.canonical(n) for n in holder.evaluations}
    for label, path in holder.headline:
        _check_headline_path(label, path, runs, f"{where} headline")


def _check_headline_path(label: str, path: str, runs: set[str], where: str) -> None:
    """One headline ``(label, path)``: see :func:`check_declarations`."""
    section, _, rest = path.partition(".")
    if section == "test" and rest.startswith("test/"):
        return
    name, _, output = rest.partition(".")
    if section == "evaluations" and name in EVALUATIONS:
        spec = evaluation_spec(name)
        if (spec.on_features or spec.name in runs) and spec.outputs.get(output) in (int, float):
            return
    raise ConfigError(f"headline '{label}' at {where}: expected 'test.test/<metric>' or 'evaluations.<evaluation>."
                      f"<numeric output>' of a feature protocol or a declared evaluation, got {path!r}. Fix the path "
                      "to one of the outputs its evaluation declares at registration.")
