"""Every shipped example config is valid (names, keys and types), so the commands of the docs work."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfeat.config import load_config, read_yaml

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "examples" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_example_config_is_valid(path: Path) -> None:
    raw = read_yaml(path)
    raw.pop("compare", None)  # comparison grids are read by `deepfeat compare`, not by the run schema
    cfg = load_config(raw)
    assert cfg.data["name"] and cfg.encoder["name"] and cfg.learner["name"]


def test_there_is_an_example_per_capability() -> None:
    assert len(CONFIGS) >= 5
