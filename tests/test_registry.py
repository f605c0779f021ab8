"""The one generic registry: names, aliases, specs, did-you-mean, keyword checks; every registry is listed."""

from __future__ import annotations

import pytest

import deepfeat  # noqa: F401  (registers everything)
from deepfeat.errors import ConfigError
from deepfeat.registry import Registry, all_registries, check_kwargs


def _registry() -> Registry:
    reg: Registry = Registry("widget_test_only")

    @reg.register("square", aliases=("sq",))
    def square(side: float = 1.0, *, label: str = "") -> tuple[float, str]:
        """A square of the given side."""
        return side * side, label

    return reg


def test_names_aliases_specs_and_build() -> None:
    reg = _registry()
    assert reg.names() == ["square"] and "sq" in reg and "circle" not in reg
    assert reg.canonical("SQ") == "square"
    assert reg.split_spec({"name": "sq", "side": 2}) == ("square", {"side": 2})
    assert reg.build({"name": "square", "side": "3"}) == (9.0, "")  # YAML strings coerced by annotation
    assert next(reg.entries()).description == "A square of the given side."


def test_unknown_names_and_keys_fail_with_the_close_match() -> None:
    reg = _registry()
    with pytest.raises(ConfigError, match="Did you mean 'square'"):
        reg.get("squar", "shape")
    with pytest.raises(ConfigError, match=r"unknown key 'shape.sid'.*Did you mean 'side'"):
        check_kwargs(reg.get("square"), {"sid": 1}, "shape")
    with pytest.raises(ConfigError, match="shape.side"):
        check_kwargs(reg.get("square"), {"side": "wide"}, "shape")


def test_a_missing_required_key_is_one_line_naming_it() -> None:
    reg: Registry = Registry("widget_test_only")
    reg.add("folder", lambda root, size=8: (root, size))
    with pytest.raises(ConfigError, match=r"^missing key 'widget.root': expected a value for root, got none"):
        reg.build({"name": "folder", "size": 4}, where="widget")
    assert reg.build({"name": "folder", "root": "imgs"}) == ("imgs", 8)


def test_every_kind_users_pick_by_name_is_listed() -> None:
    kinds = set(all_registries())
    assert {"activations", "initializers", "optimizers", "encoders", "learners", "datasets",
            "evaluations", "figures", "observers"} <= kinds
