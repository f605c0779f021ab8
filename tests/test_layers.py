"""The run layer's contract covers every learner module: a new learner file is forbidden to ``deepfeat.run``
unless it is one of the shared modules the run layer is meant to use."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
# What the run layer may use of learners/: the contract every learner answers, not a concrete family.
SHARED = {"__init__", "base", "build", "capabilities", "inference"}


def test_every_concrete_learner_module_is_forbidden_to_the_run_layer() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    forbidden = next(c for c in contracts if c["type"] == "forbidden" and c["source_modules"] == ["deepfeat.run"])
    modules = {f"deepfeat.learners.{p.stem}" for p in (ROOT / "src/deepfeat/learners").glob("*.py") if p.stem not in SHARED}
    assert modules - set(forbidden["forbidden_modules"]) == set()
