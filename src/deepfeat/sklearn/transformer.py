"""``DeepFeatureTransformer``: any registered deepfeat learner as a scikit-learn transformer."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import TransformerMixin

from deepfeat.sklearn.base import DeepEstimatorBase


class DeepFeatureTransformer(TransformerMixin, DeepEstimatorBase):
    """Learn features with any registered learner; ``transform`` returns ``learner.embed`` features.

    ``X`` (N, F), (N, C, T) or (N, C, H, W) -> features ``(N, feature_dim)`` float32, computed with
    the training split's normalization. ``learner`` is any name in the learner registry (a
    supervised one such as ``"classifier"`` needs ``y``; unsupervised ones train on ``X`` alone),
    so it drops into a ``Pipeline`` before any scikit-learn model. See :class:`DeepEstimatorBase`
    for the parameters; learned state: ``learner_``, ``info_``, ``n_features_in_``, ``n_iter_``,
    ``history_``, ``seed_``.

        >>> pipe = make_pipeline(DeepFeatureTransformer(epochs=20, random_state=0), LogisticRegression())
        >>> pipe.fit(X_train, y_train).score(X_test, y_test)
    """

    def fit(self, X: Any, y: Any = None) -> "DeepFeatureTransformer":
        """Train the learner on ``X`` (and ``y`` where it learns from labels); returns ``self``."""
        self._fit(X, y)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Features ``(N, feature_dim)`` of ``X`` from the trained learner."""
        return self._embed(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # features are float32 whatever comes in
        return tags
