"""Sphinx configuration: MyST Markdown pages, the API from the docstrings (autodoc), the CLI from its argparse
parser (sphinx-argparse), the extras matrix and the components from the code (generate.py). ``make docs`` builds it
with warnings as errors."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))  # the clone's sources, whether or not deepfeat is installed

import generate  # noqa: E402

import deepfeat  # noqa: E402

project = "deepfeat"
copyright = "the deepfeat authors"
release = deepfeat.__version__
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinxarg.ext"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_generated"]
html_theme = "furo"
html_title = f"deepfeat {release}"
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
myst_heading_anchors = 3

generate.write(HERE / "_generated")
