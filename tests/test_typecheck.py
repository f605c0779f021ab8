"""Config values are checked against annotations and converted only where nothing is lost."""

from __future__ import annotations

from typing import Literal

import pytest

from deepfeat.errors import ConfigError
from deepfeat.typecheck import coerce, type_name


@pytest.mark.parametrize(("value", "annotation", "expected"), [
    ("1e-3", float, 1e-3),                  # YAML reads 1e-3 as a string
    (3, float, 3.0),
    ([1, "1e-3"], list[float], [1.0, 1e-3]),
    (None, int | None, None),
    ("cosine", Literal["cosine", "euclidean"], "cosine"),
    ({"a": 1}, dict[str, int], {"a": 1}),
])
def test_lossless_conversions(value, annotation, expected) -> None:
    out = coerce(value, annotation, "x")
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize(("value", "annotation"), [
    (1.5, int), ("abc", float), (True, int), ("manhattan", Literal["cosine", "euclidean"]), ([1, "b"], list[int]),
])
def test_lossy_or_wrong_values_fail_naming_the_key_and_type(value, annotation) -> None:
    with pytest.raises(ConfigError, match=r"at training\.epochs: expected "):
        coerce(value, annotation, "training.epochs")


def test_type_names_read_like_the_annotation() -> None:
    assert type_name(list[int]) == "list[int]" and "None" in type_name(float | None)
