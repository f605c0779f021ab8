"""The README's code runs as written: the "Your own model and data" example, executed from the README itself."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_block(section: str) -> str:
    text = README.read_text()
    body = text[text.index(f"## {section}\n"):]
    return re.search(r"```python\n(.*?)```", body, re.S).group(1)


def test_your_own_model_and_data_example_runs_as_written(tmp_path: Path, monkeypatch, isolated_registries) -> None:
    monkeypatch.chdir(tmp_path)  # its runs/ folder goes here
    scope: dict = {}
    exec(compile(_python_block("Your own model and data"), "README.md", "exec"), scope)  # noqa: S102
    run, again = scope["run"], scope["again"]
    assert scope["features"].shape == (10, 64) and (scope["same"] == scope["features"]).all()
    assert again.config.encoder == {"name": "small_cnn", "width": 8}
    assert (again.embed(scope["X"][:3]) == run.embed(scope["X"][:3])).all()
    assert run.results["test"]["test/acc"] > 0.8
