"""Small datasets shipped inside scikit-learn: always available offline, loaded in milliseconds.

``digits`` is deepfeat's offline default; ``iris``, ``wine`` and ``breast_cancer`` are small tables
for vector (``kind: vector``) models.
"""

from __future__ import annotations

from deepfeat.data.bundle import LoadOptions, make_bundle
from deepfeat.data.datasets import always_available, register_dataset
from deepfeat.data.splits import DataBundle

_SHIPPED = always_available("shipped with scikit-learn")


@register_dataset("digits", aliases=("sklearn_digits",), available=_SHIPPED)
def digits(*, options: LoadOptions = LoadOptions()) -> DataBundle:
    """scikit-learn's 1,797 handwritten digits as images (1, 8, 8) in [0, 1] (UCI optdigits test set)."""
    from sklearn.datasets import load_digits  # imported here: scikit-learn takes ~1 s to import

    raw = load_digits()
    # Pixels are counts 0..16 of set bits in 4x4 blocks; /16 puts them in [0, 1] like other images.
    x = raw.images.reshape(-1, 1, 8, 8) / 16.0
    names = [str(c) for c in raw.target_names]
    return make_bundle(x, raw.target, "image", "digits", class_names=names, **options.kwargs())


def _table(loader: str, name: str, options: LoadOptions) -> DataBundle:
    """The scikit-learn table ``sklearn.datasets.<loader>()`` as vectors (F,) with its class names."""
    from sklearn import datasets

    raw = getattr(datasets, loader)()
    names = [str(c) for c in raw.target_names]
    return make_bundle(raw.data, raw.target, "vector", name, class_names=names, **options.kwargs())


@register_dataset("iris", available=_SHIPPED)
def iris(*, options: LoadOptions = LoadOptions()) -> DataBundle:
    """Fisher's iris flowers: 150 vectors (4,), 3 classes."""
    return _table("load_iris", "iris", options)


@register_dataset("wine", available=_SHIPPED)
def wine(*, options: LoadOptions = LoadOptions()) -> DataBundle:
    """UCI wine recognition: 178 vectors (13,), 3 cultivars."""
    return _table("load_wine", "wine", options)


@register_dataset("breast_cancer", available=_SHIPPED)
def breast_cancer(*, options: LoadOptions = LoadOptions()) -> DataBundle:
    """Wisconsin diagnostic breast cancer: 569 vectors (30,), malignant / benign."""
    return _table("load_breast_cancer", "breast_cancer", options)
