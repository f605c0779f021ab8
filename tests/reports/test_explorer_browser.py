"""The feature explorer in a real browser: headless Chromium (the system's) driven by Playwright hovers a point
and sees its preview, clicks it and sees its neighbours, finds a sample by id; a 10k-point page stays responsive."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

import deepfeat
from deepfeat.data.info import DataInfo
from deepfeat.reports.explorer import Colouring, ExplorerData, write_explorer
from deepfeat.reports.previews import PREVIEWS, previews

CHROMIUM = Path("/usr/bin/chromium")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (pip install playwright)")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (apt-get install chromium)")]

TINY = {"data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [32, 16]},
        "optimizer": {"name": "adam", "lr": 0.003}, "training": {"epochs": 2, "batch_size": 128, "progress": "none"},
        "evaluation": {"protocol": ["knn"], "embedding_plots": []}, "logging": {"plots": True, "report": True}}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


def open_page(browser: Any, path: Path) -> tuple[Any, float]:
    """The page at ``path`` once its map is drawn, and the seconds that took."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    start = time.perf_counter()
    page.goto(path.resolve().as_uri())
    page.wait_for_function("() => document.getElementById('map').dataset.drawn")
    return page, time.perf_counter() - start


def point_xy(page: Any, i: int) -> tuple[float, float]:
    """Where point ``i`` is drawn on the screen."""
    return tuple(page.evaluate("i => window.explorer.screen(i)", i))


def hover_and_click(page: Any, i: int) -> tuple[str, list[str]]:
    """Hover point ``i`` then click it: the id previewed (a point drawn on the same pixels may be the one
    picked) and the texts of the neighbour cards, the first of which is that point's."""
    x, y = point_xy(page, i)
    page.mouse.move(x, y)
    page.wait_for_selector("#preview .item")
    shown = page.inner_text("#preview .item span").split(" ")[0]
    page.mouse.click(x, y)
    page.wait_for_selector("#neighbours .item")
    cards = page.locator("#neighbours .item").all_inner_texts()
    assert cards[0].split("\n")[-1].startswith(shown + " ")
    return shown, cards


def test_a_digits_run_explorer_previews_and_lists_neighbours(browser: Any, tmp_path: Path) -> None:
    run = deepfeat.fit(copy.deepcopy(TINY), out=tmp_path / "run")
    page_file = run.dir / "plots" / "explorer.html"
    assert 'href="plots/explorer.html"' in (run.dir / "report.html").read_text()
    page, _ = open_page(browser, page_file)
    shown, cards = hover_and_click(page, 0)
    assert shown.startswith("test:") and page.locator("#preview img.thumb").count() == 1
    assert len(cards) == 11  # the point, then its 10 neighbours
    distances = [float(c.rsplit("distance ", 1)[1]) for c in cards[1:]]
    assert distances == sorted(distances)
    page.fill("#search", "train:3")
    page.press("#search", "Enter")
    page.wait_for_function("() => document.getElementById('preview').innerText.startsWith('train:3')")
    page.click("details > summary")  # the points unlike their neighbours: one click shows one of them
    first = page.locator("#disagree button").first
    odd = first.inner_text()
    first.click()
    page.wait_for_function("id => document.getElementById('neighbours').innerText.startsWith(id)", arg=odd)


@pytest.mark.parametrize("name", PREVIEWS.names())
def test_every_medium_is_previewed_and_listed_in_the_browser(browser: Any, tmp_path: Path, name: str,
                                                            preview_cases: dict[str, Any]) -> None:
    x, info, tag = preview_cases[name]
    data = ExplorerData(np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 1.0]]), ["test:0", "test:1", "test:2"], previews(x, info),
                        np.array([[1], [2], [0]]), np.ones((3, 1)))  # no colouring: one colour for all
    page, _ = open_page(browser, write_explorer(tmp_path / "explorer.html", data))
    shown, cards = hover_and_click(page, 1)
    assert shown == "test:1"  # three points far apart: the one hovered
    assert page.locator(f"#preview {tag[1:]}").count() >= 1 and page.locator(f"#neighbours {tag[1:]}").count() >= 2
    assert len(cards) == 2 and cards[1].strip().endswith("distance 1.000")


def test_ten_thousand_points_open_and_respond(browser: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 10_000
    labels = [str(v) for v in rng.integers(0, 10, n)]
    data = ExplorerData(rng.normal(size=(n, 2)), [f"test:{i}" for i in range(n)],
                        previews(rng.random((n, 1, 8, 8)), DataInfo("image", (1, 8, 8))),
                        rng.integers(0, n, (n, 10)), np.sort(rng.random((n, 10)), 1),
                        {"label": Colouring(labels, sorted(set(labels))), "score": Colouring(list(rng.random(n)))})
    page, opened = open_page(browser, write_explorer(tmp_path / "explorer.html", data))
    start = time.perf_counter()
    shown, cards = hover_and_click(page, 123)
    responded = time.perf_counter() - start
    print(f"10k points: drawn in {opened:.2f} s, hover + click answered in {responded:.2f} s")
    assert shown.startswith("test:") and len(cards) == 11
    assert opened < 2.0 and responded < 2.0
    page.click("#colours button:has-text('colour: score')")  # numbers: a colour ramp from their min to their max
    assert page.locator("#legend .ramp").count() == 1
    before, other = point_xy(page, 123), point_xy(page, 124)
    page.mouse.move(*before)
    page.mouse.wheel(0, -400)  # zoom in around the cursor: the point under it stays, the others spread
    page.wait_for_function("([i, x]) => window.explorer.screen(i)[0] !== x", arg=[124, other[0]])
    assert np.allclose(point_xy(page, 123), before, atol=3.0)  # the cursor sits on whole pixels


def test_a_ten_thousand_point_run_opens_and_answers_in_under_two_seconds(browser: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 12_000)
    x = (rng.normal(size=(12_000, 16)) + 3 * np.eye(5, 16)[y]).astype(np.float32)  # a table of five blobs
    config = {**copy.deepcopy(TINY), "data": {"name": "in_memory"}, "training": {**TINY["training"], "epochs": 1}}
    run = deepfeat.fit(config, data=(x[:2_000], y[:2_000]), test=(x[2_000:], y[2_000:]), out=tmp_path / "run")
    page, opened = open_page(browser, run.dir / "plots" / "explorer.html")
    start = time.perf_counter()
    shown, cards = hover_and_click(page, 9_999)
    responded = time.perf_counter() - start
    assert "of 10,000 points" in page.inner_text(".about") and shown.startswith("test:")
    assert page.locator("#preview code.row").count() == 1 and len(cards) == 11  # a table row, 10 neighbours
    assert opened < 2.0 and responded < 2.0
