"""The learner registry and the one function that builds a learner from config specs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
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


def declared_capabilities(spec: Any) -> frozenset[str] | None:
    """What the learner ``spec`` declares it can do (``Learner.capabilities``), read without building it.

    From the registered class, the user's class or instance, or the Learner subclass a factory's return annotation
    names (``def autoencoder(...) -> Autoencoder``); ``None`` when a factory does not say (known once built).
    """
    if isinstance(spec, Learner):
        return spec.capabilities
    if isinstance(spec, (str, Mapping)):
        spec = LEARNERS.get(LEARNERS.split_spec(spec, "learner")[0])
    made = spec if isinstance(spec, type) else hints(spec).get("return")
    return made.capabilities if isinstance(made, type) and issubclass(made, Learner) else None
