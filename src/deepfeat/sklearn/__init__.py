"""scikit-learn estimators over deepfeat learners: they drop into ``Pipeline`` and ``GridSearchCV``."""

from deepfeat.sklearn.anomaly import DeepAnomalyDetector
from deepfeat.sklearn.base import DeepEstimatorBase
from deepfeat.sklearn.classifier import DeepClassifier
from deepfeat.sklearn.transformer import DeepFeatureTransformer

__all__ = ["DeepAnomalyDetector", "DeepClassifier", "DeepEstimatorBase", "DeepFeatureTransformer"]
