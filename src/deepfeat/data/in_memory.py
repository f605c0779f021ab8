"""Samples passed in Python (numpy arrays or tensors) as a dataset, with the checks, splits and normalization
of every registered source.

``deepfeat.fit(config, data=(X, y), test=(X_test, y_test))`` records ``data: {name: in_memory}`` in the
run's config; a later ``resume`` or ``evaluate`` of that run takes the same arrays again (they are not
copied into the run folder).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deepfeat.data.bundle import LoadOptions, make_bundle
from deepfeat.data.datasets import always_available, register_dataset
from deepfeat.data.info import Kind
from deepfeat.data.splits import DataBundle
from deepfeat.errors import DataError


@register_dataset("in_memory", available=always_available("arrays passed in Python: deepfeat.fit(config, data=(X, y))"))
def in_memory(x: Any = None, y: Any = None, x_test: Any = None, y_test: Any = None, kind: Kind | None = None,
              class_names: Sequence[str] | None = None, *, options: LoadOptions = LoadOptions()) -> DataBundle:
    """Arrays or tensors ``x`` (N, ...) and labels ``y`` (N,) given in Python; ``x_test`` keeps its own test split."""
    if x is None:
        raise DataError(f"data 'in_memory' at {options.where}: expected samples passed in Python, got none. This run "
                        "was trained on arrays given to deepfeat.fit(config, data=(X, y)): pass them again, e.g. "
                        "deepfeat.resume(run, data=(X, y)) or deepfeat.evaluate(run, data=(X, y)).")
    return make_bundle(x, y, kind, "in_memory", class_names=class_names, x_test=x_test, y_test=y_test, **options.kwargs())


def memory_spec(data: Any, test: Any = None) -> dict[str, Any]:
    """The ``in_memory`` dataset's arguments from ``data`` (``X`` or ``(X, y)``) and an optional ``test`` likewise."""
    spec: dict[str, Any] = dict(zip(("x", "y"), _pair(data, "data")))
    if test is not None:
        spec.update(zip(("x_test", "y_test"), _pair(test, "test")))
    return spec


def _pair(value: Any, where: str) -> tuple[Any, Any]:
    if isinstance(value, tuple):
        if len(value) != 2:
            raise DataError(f"{where}: expected X or a pair (X, y) of arrays, got a tuple of {len(value)} items")
        return value
    return value, None
