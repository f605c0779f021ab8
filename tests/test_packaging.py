"""The package builds into a wheel that holds the whole library, with the version the code reports, warning-free."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    """Build from a copy of the sources (the build writes build/ and *.egg-info next to them), offline; -v shows
    setuptools' own output, where its warnings (such as the license-table deprecation) are printed."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "-v", "--no-deps", "--no-build-isolation",
                           "--no-index", "-w", str(tmp / "dist")], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (built,) = (tmp / "dist").glob("deepfeat-*.whl")
    return built, done.stdout + done.stderr


def test_the_wheel_holds_every_module_and_the_code_s_version(wheel) -> None:
    import deepfeat

    built, _ = wheel
    names = set(zipfile.ZipFile(built).namelist())
    sources = {str(p.relative_to(REPO / "src")) for p in (REPO / "src" / "deepfeat").rglob("*.py")}
    assert {"deepfeat/run/workflow.py", "deepfeat/cli/__main__.py", "deepfeat/py.typed"} <= names
    assert sources <= names, sorted(sources - names)[:5]
    dist_info = f"deepfeat-{deepfeat.__version__}.dist-info"
    metadata = zipfile.ZipFile(built).read(f"{dist_info}/METADATA").decode()
    assert f"\nVersion: {deepfeat.__version__}\n" in metadata
    assert "License-Expression: MIT" in metadata
    entry_points = zipfile.ZipFile(built).read(f"{dist_info}/entry_points.txt").decode()
    assert "deepfeat = deepfeat.cli:main" in entry_points


def test_building_prints_no_setuptools_warning(wheel) -> None:
    _, log = wheel
    assert "Warning" not in log and "deprecat" not in log.lower() and "license" not in log.lower(), log[-2000:]


def test_every_module_imports_without_fcntl() -> None:
    """POSIX's ``fcntl`` does not exist on Windows: no deepfeat module may need it to import."""
    script = ("import importlib, pkgutil, sys\n"
              "sys.modules['fcntl'] = None\n"  # `import fcntl` now raises ImportError, as on Windows
              "import deepfeat\n"
              "for m in pkgutil.walk_packages(deepfeat.__path__, 'deepfeat.'):\n"
              "    if not m.name.endswith('__main__'):\n"
              "        importlib.import_module(m.name)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_wheel_carries_every_example_config(wheel) -> None:
    built, _ = wheel
    names = set(zipfile.ZipFile(built).namelist())
    configs = {f"deepfeat/examples/{p.name}" for p in (REPO / "examples" / "configs").glob("*.yaml")}
    assert "deepfeat/examples/digits_mlp.yaml" in configs and configs <= names, sorted(configs - names)[:5]
