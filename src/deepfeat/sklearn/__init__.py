"""scikit-learn estimators over deepfeat learners: they drop into ``Pipeline`` and ``GridSearchCV``."""

from deepfeat.sklearn.base import DeepEstimatorBase
from deepfeat.sklearn.classifier import DeepClassifier
from deepfeat.sklearn.transformer import DeepFeatureTransformer

__all__ = ["DeepClassifier", "DeepEstimatorBase", "DeepFeatureTransformer"]
