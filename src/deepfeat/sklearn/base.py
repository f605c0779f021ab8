"""What every deepfeat scikit-learn estimator shares: parameters, input checks, seeded training, embedding.

The estimators are thin: ``fit`` turns arrays into a :class:`~deepfeat.data.splits.DataBundle`
with :func:`~deepfeat.data.bundle.from_arrays`, builds the learner through the registry and trains
it with the one :class:`~deepfeat.engine.trainer.Trainer`; nothing here is a second training loop.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from deepfeat.data.bundle import from_arrays
from deepfeat.data.checks import infer_kind
from deepfeat.data.kinds import kind_named
from deepfeat.data.splits import TensorSplit
from deepfeat.engine.inference import collect
from deepfeat.engine.progress import Progress
from deepfeat.engine.seeding import rng_state, seed_everything, set_rng_state
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import ConfigError, DataError
from deepfeat.learners.build import build_learner, declared_capabilities

InputKind = Literal["auto", "vector", "image", "sequence", "tokens"]


class DeepEstimatorBase(BaseEstimator):
    """Shared parameters and machinery of the deepfeat estimators; never instantiated itself.

    Parameters mirror the config sections: ``encoder``, ``learner``, ``optimizer``, ``schedule`` and
    ``regularization`` take a registry name or a ``{name: ..., **args}`` dict, exactly as in YAML;
    ``lr`` (when set) overrides the optimizer's learning rate; ``epochs``, ``batch_size``,
    ``device`` and ``precision`` are the ``training:`` fields: ``epochs`` / ``batch_size`` None (the default) are
    picked from the training rows as ``deepfeat fit`` picks them (``plan_schedule``: about 3,000 updates of batches
    of ``min(128, n)``), as scikit-learn's ``MLPClassifier`` budgets updates, not a fixed count whatever the data.
    ``kind`` says how to read ``X``:
    ``"auto"`` takes 2-D as vectors (N, F), 3-D as sequences (N, C, T), 4-D as images (N, C, H, W);
    ``"image"`` also accepts (N, H, W) and adds the channel; ``encoder`` may also be your own ``nn.Module``
    (an instance, copied at each fit, a class or a factory); ``"tokens"`` takes (N, T) integer token ids
    (0 = padding, e.g. from ``deepfeat.data.encode_texts``) for the text encoders and ``seq_autoencoder``.
    ``learner`` may likewise be your own learner class or factory ``(info, encoder) -> Learner``; what it can do
    is read from the ``capabilities`` it declares, never by probing for methods.
    """

    # The capability an estimator's learner must declare, what to call such a learner, and the fix; None: any learner.
    _needs: ClassVar[tuple[str, str, str] | None] = None

    def __init__(self, encoder: Any = "mlp", learner: Any = "classifier", optimizer: Any = "adam",
                 lr: float | None = None, schedule: Any = "constant", regularization: Any = None,
                 epochs: int | None = None, batch_size: int | None = None, val_fraction: float = 0.0,
                 normalize: bool = True, kind: InputKind = "auto",
                 device: str = "auto", precision: str = "fp32", random_state: int | None = None,
                 verbose: bool = False) -> None:
        self.encoder = encoder
        self.learner = learner
        self.optimizer = optimizer
        self.lr = lr
        self.schedule = schedule
        self.regularization = regularization
        self.epochs = epochs
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.normalize = normalize
        self.kind = kind
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.required = self._learner_predicts()
        return tags

    def _declared(self) -> frozenset[str] | None:
        """The configured learner's declared capabilities; None when only building it tells (or the spec is invalid)."""
        try:
            return declared_capabilities(self._learner_spec(None))
        except ValueError:
            return None  # an invalid spec fails in fit, with the registry's message

    def _learner_spec(self, input_shape: tuple[int, ...] | None) -> Any:
        """The learner spec to build for samples of ``input_shape`` (None before fit: only what it declares is read)."""
        return self.learner

    def _learner_predicts(self) -> bool:
        """Whether the configured learner predicts classes (and so needs labels to train)."""
        return "classifies" in (self._declared() or ())

    def _require(self, capabilities: frozenset[str] | None) -> None:
        """A ConfigError unless the learner's ``capabilities`` (None: not known yet) hold what this estimator needs."""
        if self._needs is None or capabilities is None or self._needs[0] in capabilities:
            return
        capability, wanted, fix = self._needs
        raise ConfigError(f"learner at {type(self).__name__}.learner: expected {wanted}, got {self.learner!r} "
                          f"(it declares {', '.join(sorted(capabilities)) or 'no capabilities'}, not '{capability}'). "
                          f"{fix}")

    # -- fit --------------------------------------------------------------------------------
    def _fit(self, X: Any, y: Any = None) -> np.ndarray | None:
        """Validate, encode labels, train the learner with the Trainer; sets the ``*_`` attributes.

        Returns the sorted original class labels (the learner sees their indices), or None without ``y``.
        """
        self._require(self._declared())
        x, codes, classes = self._validate_fit(X, y)
        seed = self._seed()
        saved = rng_state()  # the caller's global RNGs are left as they were
        try:
            seed_everything(seed)
            data = from_arrays(x, codes, self.kind_, seed=seed, val_fraction=self.val_fraction, test_fraction=0.0,
                               normalize=self.normalize, name="sklearn",
                               class_names=None if classes is None else [str(c) for c in classes])
            # A module instance is copied, so each fit starts from its initial weights (scikit-learn's contract).
            encoder = copy.deepcopy(self.encoder) if isinstance(self.encoder, torch.nn.Module) else self.encoder
            learner = build_learner(self._learner_spec(self.input_shape_), data.info, encoder, self.regularization)
            self._require(learner.capabilities)  # a factory that does not declare its learner's class is checked here
            callbacks = [Progress("line")] if self.verbose else []
            cfg = TrainingConfig(epochs=self.epochs, batch_size=self.batch_size, device=self.device,
                                 precision=self.precision)  # type: ignore[arg-type]
            trainer = Trainer(cfg, seed=seed, callbacks=callbacks)
            result = trainer.fit(learner, data, optimizer=self._optimizer_spec(), schedule=self.schedule)
        finally:
            set_rng_state(saved)
        self.learner_, self.info_, self.precision_ = learner.eval(), data.info, trainer.precision
        self.seed_, self.n_iter_, self.history_ = seed, result.epochs, result.history
        self._after_fit(data)
        return classes

    def _after_fit(self, data: Any) -> None:
        """What an estimator sets from the data it was fitted on (its normalized train and val splits): nothing here."""

    def _validate_fit(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Checked inputs, label indices 0..K-1 (or None) and the sorted original labels (or None)."""
        codes = classes = None
        if y is None and not self.__sklearn_tags__().target_tags.required:  # a classifier needs labels
            x = validate_data(self, X, allow_nd=True, dtype=self._dtype())
        else:
            x, y = validate_data(self, X, y, allow_nd=True, dtype=self._dtype())
            check_classification_targets(y)
            classes, codes = np.unique(y, return_inverse=True)
        if len(x) < 2:
            # The trainer drops a last batch of one sample (batch norm cannot train on it): nothing to learn from.
            raise DataError(
                f"input at {type(self).__name__}.fit: expected at least 2 samples, got n_samples={len(x)}. "
                "Fit on more data."
            )
        self.kind_ = infer_kind(x.ndim, "X") if self.kind == "auto" else self.kind
        x = self._as_samples(x)
        self.input_shape_ = tuple(x.shape[1:])
        return x, codes, classes

    def _dtype(self) -> type:
        """Token ids stay integers (embedding lookups); every other input is float32 (``auto`` infers a real-valued kind)."""
        continuous = self.kind == "auto" or kind_named(self.kind, f"{type(self).__name__}.kind").continuous
        return np.float32 if continuous else np.int64

    def _seed(self) -> int:
        if isinstance(self.random_state, (int, np.integer)):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _optimizer_spec(self) -> Any:
        if self.lr is None:
            return self.optimizer
        spec = {"name": self.optimizer} if isinstance(self.optimizer, str) else dict(self.optimizer)
        return {**spec, "lr": self.lr}

    # -- inference ------------------------------------------------------------------------------
    def _as_samples(self, x: np.ndarray) -> np.ndarray:
        """``x`` in the layout the encoder expects: (N, H, W) images get their channel axis."""
        if kind_named(self.kind_).spatial and x.ndim == 3:
            x = x[:, None]
        # Writable and contiguous, so torch can share the memory (sklearn checks pass read-only memmaps).
        return np.require(x, requirements=["C", "W"])

    def _inputs(self, X: Any) -> torch.Tensor:
        """Checked inputs ``(N, *input_shape_)`` of a fitted estimator: float32, or int64 token ids."""
        check_is_fitted(self)
        x = self._as_samples(validate_data(self, X, reset=False, allow_nd=True, dtype=self._dtype()))
        if tuple(x.shape[1:]) != self.input_shape_:
            raise DataError(
                f"input shape at {type(self).__name__}.X: expected samples of shape {self.input_shape_} "
                f"(as in fit), got {tuple(x.shape[1:])}. Pass data shaped like the training data."
            )
        return torch.from_numpy(x)

    def _outputs(self, X: Any, method: str, batch_size: int = 1024) -> np.ndarray:
        """The learner's ``method`` applied batch by batch to the training-normalized inputs; float32."""
        x = self._inputs(X)
        fn, info = getattr(self.learner_, method), self.info_
        out, _ = collect(self.learner_, TensorSplit(x), self.precision_, lambda b: fn(info.normalize(b)), batch_size)
        return out

    def _embed(self, X: Any) -> np.ndarray:
        """Features ``(N, feature_dim)`` from ``learner_.embed``."""
        return self._outputs(X, "embed")
