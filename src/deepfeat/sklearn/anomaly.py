"""``DeepAnomalyDetector``: a deepfeat learner that scores anomalies, as a scikit-learn outlier detector."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import OutlierMixin

from deepfeat.errors import ConfigError
from deepfeat.run.evaluations.autoencoder import calibrate
from deepfeat.sklearn.base import DeepEstimatorBase, InputKind

# deepfeat's default calibration (``calibrate_threshold``, ``deepfeat score``): flag scores above this quantile.
AUTO_QUANTILE = 0.95


class DeepAnomalyDetector(OutlierMixin, DeepEstimatorBase):
    """Fit on normal rows, then rank and flag new ones, with the interface of ``IsolationForest`` / ``OneClassSVM``.

    ``fit(X)`` trains ``learner`` on ``X``: by default (``None``) an ``"autoencoder"`` whose code is half as wide as a
    sample (1 to 32 values), so it cannot learn to copy every input; else any learner that declares the ``scores``
    capability (``vae``, ``deep_svdd``, ``denoising``, your own class or factory, ...). ``X`` is standardized with
    its own statistics (stored with the model, as every deepfeat estimator does); ``y`` is ignored. As in scikit-learn,
    higher is more normal: ``score_samples(X)`` is the negative of the learner's anomaly score (an autoencoder's
    reconstruction error), ``decision_function(X) = score_samples(X) - offset_`` is negative for outliers, and
    ``predict(X)`` gives +1 (inlier) or -1 (outlier).

    ``contamination``: the share of outliers expected in the data, a float in (0, 0.5], sets ``offset_`` to that
    quantile of the calibration scores (as ``IsolationForest`` does with its training scores); ``"auto"`` uses
    deepfeat's default calibration, the 0.95 quantile, so about 5% of new normal rows are flagged. The calibration
    rows are the validation rows, ``val_fraction`` of ``X`` (default 0.2 here) held out of training, which also pick
    the epoch: a network scores the rows it trained on lower than new ones (an autoencoder fitted on 250 rows of a
    table flagged every new normal row against its training rows' quantile, and 11% against its validation rows').
    ``val_fraction=0`` trains on every row and calibrates on them. See :class:`DeepEstimatorBase` for the other
    parameters; learned state: ``offset_``, ``calibration_split_`` (``"val"`` or ``"train"``), ``learner_``,
    ``info_``, ``n_features_in_``, ``n_iter_``, ``history_``, ``seed_``.

        >>> det = DeepAnomalyDetector(epochs=30, random_state=0).fit(X_normal)
        >>> det.predict(X_new)  # +1 / -1
    """

    _needs = ("scores", "a learner that scores anomalies (such as 'autoencoder', 'vae' or 'deep_svdd')",
              "Pick a learner that declares 'scores' (deepfeat list learners describes them).")

    def __init__(self, encoder: Any = "mlp", learner: Any = None, contamination: str | float = "auto",
                 optimizer: Any = "adam", lr: float | None = None, schedule: Any = "constant",
                 regularization: Any = None, epochs: int | None = None, batch_size: int | None = None,
                 val_fraction: float = 0.2, normalize: bool = True, kind: InputKind = "auto", device: str = "auto",
                 precision: str = "fp32", random_state: int | None = None, verbose: bool = False) -> None:
        super().__init__(encoder=encoder, learner=learner, optimizer=optimizer, lr=lr, schedule=schedule,
                         regularization=regularization, epochs=epochs, batch_size=batch_size,
                         val_fraction=val_fraction, normalize=normalize, kind=kind, device=device,
                         precision=precision, random_state=random_state, verbose=verbose)
        self.contamination = contamination

    def fit(self, X: Any, y: Any = None) -> "DeepAnomalyDetector":
        """Train on (mostly) normal samples ``X``; ``y`` is ignored. Sets ``offset_`` from the calibration scores."""
        self._quantile()  # a bad contamination is refused before training
        self._fit(X)  # never y: a detector learns from normal rows alone (scikit-learn's outlier contract)
        return self

    def _after_fit(self, data: Any) -> None:
        """``offset_`` from the scores of the validation rows, which the network did not train on (the training rows
        when ``val_fraction`` is 0: a network that fits them closely scores new normal rows higher)."""
        result = calibrate(self.learner_, data, self.precision_, quantile=self._quantile())  # as a run calibrates
        self.offset_, self.calibration_split_ = -result["threshold"], result["settings"]["calibration_split"]

    def score_samples(self, X: Any) -> np.ndarray:
        """Normality ``(N,)`` float64: the negative of the learner's anomaly score (higher = more normal)."""
        return -self._outputs(X, "score_samples").astype(np.float64)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_`` ``(N,)``: negative for outliers, positive for inliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for an inlier, -1 for an outlier ``(N,)``."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def _learner_spec(self, input_shape: tuple[int, ...] | None) -> Any:
        """``learner``, or (None) the default autoencoder with a code half as wide as a sample."""
        if self.learner is not None:
            return self.learner
        if input_shape is None:
            return "autoencoder"  # before fit: what it declares
        return {"name": "autoencoder", "code_dim": min(32, max(1, int(np.prod(input_shape)) // 2))}

    def _quantile(self) -> float:
        """The quantile of the training anomaly scores that becomes the threshold; checks ``contamination``."""
        c = self.contamination
        if isinstance(c, str) and c == "auto":
            return AUTO_QUANTILE
        if isinstance(c, (int, float, np.floating)) and not isinstance(c, bool) and 0 < c <= 0.5:
            return 1.0 - float(c)
        raise ConfigError(f"contamination at DeepAnomalyDetector.contamination: expected 'auto' or a fraction in "
                          f"(0, 0.5], got {c!r}. Give the share of outliers expected in the training data.")
