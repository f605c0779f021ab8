"""The code of the documentation pages runs as written, so a guide cannot show code that no longer works.

Convention, for whoever writes a page (an HTML comment, invisible on the site, on the line right before a fence):

- every ```python block runs, in page order, in one fresh working folder per page with one namespace per page (a
  block may use what an earlier block of its page made);
- a ```bash block runs only after ``<!-- docs-test: run -->``: each ``deepfeat ...`` line through the CLI, a ``fit``
  with the one-epoch overrides of the journeys (``QUICK`` in tests/test_journeys.py) appended;
- ``<!-- docs-test: skip (why) -->`` leaves a block out: an outline, a fragment that needs runs made elsewhere, or
  code that another test runs with checks of its own (the journeys, tests/test_docs_pages.py).

Pages none of whose blocks run are not collected.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from deepfeat.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"(?:<!-- docs-test: (run|skip)\b[^\n]*-->\n)?```(python|bash)\n(.*?)```", re.S)
SLOW = {"get-started.md"}  # pages whose blocks together take over ~10 s on two cores


def _journeys():
    spec = importlib.util.spec_from_file_location("docs_journeys", Path(__file__).parent / "test_journeys.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def page_blocks(path: Path) -> list[tuple[str, str]]:
    """The blocks of ``path`` that run, as ``(language, code)`` in page order."""
    return [(lang, code) for mark, lang, code in BLOCK.findall(path.read_text(encoding="utf-8"))
            if mark != "skip" and (lang == "python" or mark == "run")]


PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts and page_blocks(p))


@pytest.mark.parametrize("page", [pytest.param(p, id=str(p.relative_to(DOCS)),
                                                marks=[pytest.mark.slow] if p.name in SLOW else [])
                                  for p in PAGES])
def test_the_page_s_code_runs_as_written(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    quick, scope = _journeys().QUICK, {"__name__": "__docs__"}
    for lang, code in page_blocks(page):
        if lang == "python":
            exec(compile(code, str(page), "exec"), scope)  # noqa: S102
            continue
        for line in code.splitlines():
            argv = shlex.split(line, comments=True)
            assert argv[:1] == ["deepfeat"], f"{page.name}: a block marked run holds deepfeat commands only: {line!r}"
            assert main(argv[1:] + (quick if argv[1] == "fit" else [])) == 0, line


def test_the_convention_finds_the_marks(tmp_path: Path) -> None:
    """A skip mark leaves its block out, a run mark brings a bash block in, and an unmarked bash block stays out."""
    page = "<!-- docs-test: skip (x) -->\n```python\n1/0\n```\n```python\nx = 1\n```\n```bash\nrm -rf /\n```\n" \
           "<!-- docs-test: run -->\n```bash\ndeepfeat --version\n```\n"
    path = tmp_path / "page.md"
    path.write_text(page)
    assert page_blocks(path) == [("python", "x = 1\n"), ("bash", "deepfeat --version\n")]
