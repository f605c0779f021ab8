"""The learner registry and the one function that builds a learner from config specs."""

from __future__ import annotations

from typing import Any

from deepfeat.data.info import DataInfo
from deepfeat.learners.base import Learner
from deepfeat.nn.regularizers import REGULARIZERS
from deepfeat.registry import Registry

LEARNERS: Registry[Learner] = Registry("learner", takes=2)


def build_learner(spec: Any, info: DataInfo, encoder: Any = "mlp", regularization: Any = None) -> Learner:
    """Build a registered learner for data described by ``info``.

    Every learner factory takes ``(info, encoder_spec, **its_own_args)``, so a learner decides how
    to use the encoder spec (a classifier wraps it; an autoencoder mirrors it into a decoder).
    """
    learner = LEARNERS.build(spec, info, encoder, where="learner")
    if regularization is not None:
        learner.penalty = REGULARIZERS.build(regularization, where="regularization")
    return learner
