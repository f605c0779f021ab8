"""``DeepClassifier``: a deepfeat network trained end to end as a scikit-learn classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin

from deepfeat.sklearn.base import DeepEstimatorBase


class DeepClassifier(ClassifierMixin, DeepEstimatorBase):
    """A registered learner that predicts classes (default ``"classifier"``: encoder + linear head).

    ``predict_proba(X) -> (N, n_classes)`` in the order of ``classes_`` (any labels: numbers or
    text), ``predict`` the most probable class, ``score`` the accuracy, ``embed`` the encoder's
    features ``(N, feature_dim)``. See :class:`DeepEstimatorBase` for the parameters; learned
    state: ``classes_``, ``learner_``, ``info_``, ``n_features_in_``, ``n_iter_``, ``history_``, ``seed_``.

        >>> clf = DeepClassifier(encoder={"name": "mlp", "hidden": [64]}, epochs=30, random_state=0)
        >>> clf.fit(X_train, y_train).score(X_test, y_test)
    """

    _needs = ("classifies", "a learner that predicts classes (such as 'classifier')",
             "Use DeepFeatureTransformer for feature learners.")

    def fit(self, X: Any, y: Any) -> "DeepClassifier":
        """Train on inputs ``X`` and class labels ``y (N,)``; returns ``self``."""
        self.classes_ = self._fit(X, y)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(N, n_classes)``, columns in the order of ``classes_``."""
        return self._outputs(X, "predict_proba")

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample ``(N,)``, as one of ``classes_``."""
        proba = self.predict_proba(X)  # first: it raises NotFittedError before classes_ is read
        return self.classes_[proba.argmax(1)]

    def embed(self, X: Any) -> np.ndarray:
        """The encoder's features ``(N, feature_dim)`` (``transform`` is left out: this is no transformer)."""
        return self._embed(X)
