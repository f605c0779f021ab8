"""Feature probes: how linearly separable, and how well clustered by class, learned features are.

Pure functions of arrays (numpy or torch): they never see a model or a trainer, so any learner's
``embed`` output can be probed. Each result carries the settings it was computed with, so it can
be recorded next to its number (``results.json``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Sequence

import numpy as np
import torch

from deepfeat.data.checks import ArrayLike, as_numpy, check_arrays
from deepfeat.errors import ConfigError, DataError
from deepfeat.eval.evaluations import register_evaluation

if TYPE_CHECKING:  # scikit-learn is imported where it is used: it takes ~1 s, and loading a config registers this module
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

# Test rows per block of the kNN similarity matrix: bounds memory at 1024 x N_train floats.
_KNN_CHUNK = 1024


def _checked(
    train_z: ArrayLike, train_y: ArrayLike, test_z: ArrayLike, test_y: ArrayLike, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validated numpy copies: features (N, D) finite, labels (N,) integers, same D on both sides."""
    check_arrays(train_z, train_y, f"{where}.train", kind="vector")
    check_arrays(test_z, test_y, f"{where}.test", kind="vector")
    arrays = [as_numpy(a) for a in (train_z, train_y, test_z, test_y)]
    if arrays[0].shape[1] != arrays[2].shape[1]:
        raise DataError(
            f"features at {where}.test.x: expected {arrays[0].shape[1]} features (as in train), got "
            f"{arrays[2].shape[1]}. Embed both splits with the same encoder."
        )
    xtr, ytr, xte, yte = arrays
    return xtr.astype(np.float64), ytr.astype(np.int64), xte.astype(np.float64), yte.astype(np.int64)


# The pinned defaults of each protocol are written out at its registration, not inherited from the function, so a
# changed function default can never silently change what a recorded result means.
@register_evaluation("linear_probe", aliases=("linear",), reads="train+test", needs_labels=True,
                     defaults={"C": 1.0, "max_iter": 1000, "standardize": True, "seed": 0}, derived=("solver",),
                     outputs={"accuracy": float, "converged": bool})
def linear_probe(
    train_z: ArrayLike,
    train_y: ArrayLike,
    test_z: ArrayLike,
    test_y: ArrayLike,
    *,
    C: float = 1.0,
    max_iter: int = 1000,
    standardize: bool = True,
    seed: int = 0,
    return_predictions: bool = False,
) -> dict[str, Any]:
    """Test accuracy of a logistic regression on frozen features ``(N, D)`` with labels ``(N,)``.

    The standard linear evaluation of representations (Kolesnikov et al., 2019; SimCLR, Chen et
    al., 2020): multinomial L2-regularised logistic regression fitted with L-BFGS; the optional
    standardisation is fitted on the training features only, so no test statistics leak in.
    Returns ``{"accuracy", "converged", "settings"}`` (+ ``"predictions"`` ``(N_test,)``).
    """
    xtr, ytr, xte, yte = _checked(train_z, train_y, test_z, test_y, "linear_probe")
    if len(np.unique(ytr)) < 2:
        raise DataError(
            f"labels at linear_probe.train.y: expected at least 2 classes, got only {ytr[0]}. "
            "Use a training split that holds every class."
        )
    scaler, clf = _fit_logistic(xtr, ytr, C, max_iter, standardize, seed)
    pred = clf.predict(xte if scaler is None else scaler.transform(xte))
    result: dict[str, Any] = {
        "accuracy": float(np.mean(pred == yte)),
        "converged": bool(np.all(clf.n_iter_ < max_iter)),
        "settings": {"C": C, "max_iter": max_iter, "standardize": standardize, "seed": seed, "solver": "lbfgs"},
    }
    if return_predictions:
        result["predictions"] = pred
    return result


def _fit_logistic(x: np.ndarray, y: np.ndarray, C: float, max_iter: int, standardize: bool,
                  seed: int) -> tuple[StandardScaler | None, LogisticRegression]:
    """The probe's model: an optional standardization and a multinomial logistic regression (L-BFGS)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x) if standardize else None
    clf = LogisticRegression(C=C, max_iter=max_iter, solver="lbfgs", random_state=seed)
    return scaler, clf.fit(x if scaler is None else scaler.transform(x), y)


def logistic_head(features: ArrayLike, labels: ArrayLike, num_classes: int, *, C: float = 1.0, max_iter: int = 1000,
                  seed: int = 0) -> dict[str, torch.Tensor]:
    """The linear probe as the parameters of a standardize-then-linear head, for ``num_classes`` classes.

    Fits :func:`linear_probe`'s model on ``features (N, D)`` and ``labels (N,)`` and returns ``{"mean" (D,),
    "var" (D,), "weight" (num_classes, D), "bias" (num_classes,)}`` (float32) such that
    ``((z - mean) / sqrt(var)) @ weight.T + bias`` are its logits: the converged first stage of LP-FT (Kumar et
    al. 2022 fit it with L-BFGS too). Two classes give the symmetric logits ``-+ (w.z + b) / 2``; a class absent
    from ``labels`` gets zero weights and a bias far below the others (it is never predicted).
    """
    z, y = as_numpy(features).astype(np.float64), as_numpy(labels).astype(np.int64)
    if z.ndim != 2 or len(z) != len(y) or len(np.unique(y)) < 2 or y.min() < 0 or y.max() >= num_classes:
        raise DataError(f"features at logistic_head: expected (N, D) features and N labels in 0..{num_classes - 1} "
                        f"from at least 2 classes, got shapes {z.shape} and {y.shape}. Use labelled training data.")
    scaler, clf = _fit_logistic(z, y, C, max_iter, True, seed)
    assert scaler is not None
    coef, intercept = clf.coef_, clf.intercept_
    if len(clf.classes_) == 2:  # sklearn keeps one row for two classes: the log-odds of the second
        coef, intercept = np.concatenate([-coef, coef]) / 2, np.concatenate([-intercept, intercept]) / 2
    weight = np.zeros((num_classes, z.shape[1]))
    bias = np.full(num_classes, float(intercept.min()) - 20.0)
    weight[clf.classes_], bias[clf.classes_] = coef, intercept
    # scale_ ** 2 is the variance, except for constant features, which StandardScaler leaves at scale 1.
    return {name: torch.as_tensor(value, dtype=torch.float32)
            for name, value in {"mean": scaler.mean_, "var": scaler.scale_ ** 2, "weight": weight, "bias": bias}.items()}


def nearest_neighbours(xtr: np.ndarray, xte: np.ndarray, k: int, metric: str) -> np.ndarray:
    """Indices ``(N_test, k)`` of each test row's ``k`` nearest training rows, nearest first."""
    a, b = torch.from_numpy(xtr), torch.from_numpy(xte)
    if metric == "cosine":
        a, b = torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(b, dim=1)
    out = []
    for start in range(0, len(b), _KNN_CHUNK):
        chunk = b[start : start + _KNN_CHUNK]
        if metric == "cosine":
            score = chunk @ a.T  # higher is nearer
        else:
            # -||x - t||^2 up to the per-row constant ||x||^2, which does not change the ranking.
            score = 2 * chunk @ a.T - (a * a).sum(1)
        out.append(score.topk(k, dim=1).indices)
    return torch.cat(out).numpy()


def majority_vote(nearest: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Most frequent label ``(N,)`` among neighbour class indices ``(N, k)``; ties to the smallest label."""
    votes = np.zeros((len(nearest), len(classes)), dtype=np.int64)
    np.add.at(votes, (np.arange(len(nearest))[:, None], nearest), 1)
    return classes[votes.argmax(1)]  # argmax takes the first maximum: classes are sorted


@register_evaluation("knn", aliases=("knn_accuracy",), reads="train+test", needs_labels=True,
                     defaults={"k": [5, 20], "metric": "cosine"}, derived=("vote",),
                     outputs={"accuracy": float, "accuracy_by_k": dict})
def knn_accuracy(
    train_z: ArrayLike,
    train_y: ArrayLike,
    test_z: ArrayLike,
    test_y: ArrayLike,
    *,
    k: int | Sequence[int] = 5,
    metric: Literal["cosine", "euclidean"] = "cosine",
    return_predictions: bool = False,
) -> dict[str, Any]:
    """Test accuracy of a k-nearest-neighbour classifier on features ``(N, D)`` with labels ``(N,)``.

    Majority vote among the ``k`` nearest training samples, ties going to the smallest label (as
    scikit-learn's ``KNeighborsClassifier``): unweighted, so the number depends on the features'
    neighbourhoods alone, not on a temperature (unlike the weighted vote of Wu et al., 2018).
    ``k`` may be a list; the neighbours are found once for the largest. Returns ``{"accuracy"``
    (for the first ``k``), ``"accuracy_by_k"``, ``"settings"}`` (+ ``"predictions"`` for the first ``k``).
    """
    ks = [k] if isinstance(k, (int, np.integer)) else list(k)
    if metric not in ("cosine", "euclidean"):
        raise ConfigError(f"metric at knn.metric: expected 'cosine' or 'euclidean', got {metric!r}.")
    xtr, ytr, xte, yte = _checked(train_z, train_y, test_z, test_y, "knn")
    if not ks or any(isinstance(v, bool) or int(v) != v or not 1 <= v <= len(xtr) for v in ks):
        raise ConfigError(
            f"value at knn.k: expected whole numbers in 1..{len(xtr)} (the training samples), got {k!r}. "
            "Lower k or use more training samples."
        )
    ks = [int(v) for v in ks]
    classes, label_idx = np.unique(ytr, return_inverse=True)
    nearest = label_idx[nearest_neighbours(xtr, xte, max(ks), metric)]  # (N_test, max k) class indices
    preds = {kk: majority_vote(nearest[:, :kk], classes) for kk in ks}
    result: dict[str, Any] = {
        "accuracy": float(np.mean(preds[ks[0]] == yte)),
        "accuracy_by_k": {kk: float(np.mean(pred == yte)) for kk, pred in preds.items()},
        "settings": {"k": ks if len(ks) > 1 else ks[0], "metric": metric, "vote": "majority"},
    }
    if return_predictions:
        result["predictions"] = preds[ks[0]]
    return result
