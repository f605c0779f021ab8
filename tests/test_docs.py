"""The documentation's generated pages come from the code: the extras list from pyproject.toml and the extras'
loaders, the components from the registries with the arguments `deepfeat list KIND NAME` shows."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="the docs build needs Python 3.11 or newer (Sphinx)")

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def generate():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_extras_list_names_every_extra_and_what_loads_it(generate) -> None:
    text = generate.extras_matrix()
    extras = tomllib.loads((DOCS.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert [line.split("`")[1] for line in text.splitlines()] == list(extras)
    images = next(line for line in text.splitlines() if line.startswith("- **`images`**"))
    assert "`torchmetrics>=1.3`" in images and "snr_db" in images and "evaluation generative" in images


def test_the_components_page_has_every_kind_and_each_entry_s_arguments(generate) -> None:
    from deepfeat.cli.reference import KINDS
    from deepfeat.cli.kinds import kind_name

    text = generate.components()
    assert [line[3:] for line in text.splitlines() if line.startswith("## ")] == sorted(map(kind_name, KINDS))
    leaky = text.split("### `leaky_relu`", 1)[1].split("### ", 1)[0]
    assert "| `negative_slope` | float | 0.01 |" in leaky
