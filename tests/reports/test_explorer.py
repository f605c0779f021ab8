"""The feature explorer page and the previews it shows, without a browser (see test_explorer_browser.py)."""

import json
import re

import numpy as np
import pytest

from deepfeat.reports.explorer import Colouring, ExplorerData, disagreements, explorer_html
from deepfeat.reports.previews import PREVIEWS, medium, previews


@pytest.mark.parametrize("name", PREVIEWS.names())
def test_every_registered_preview_gives_one_snippet_per_sample(name: str, preview_cases) -> None:
    x, info, tag = preview_cases[name]
    assert medium(info) == name
    shown = previews(x, info)
    assert len(shown) == 3 and all(tag in s for s in shown)


def test_text_previews_are_escaped(preview_cases) -> None:
    x, info, _ = preview_cases["text_table"]
    assert previews(x, info)[0] == '<p class="text">&lt;b&gt; x&amp;y</p>'


def test_disagreements_by_hand() -> None:
    labels = np.array(["a", "a", "a", "b"])
    neighbours = np.array([[1, 2], [0, 3], [0, 1], [0, 1]])  # point 3 (b) sits among a's; point 1 half and half
    assert disagreements(labels, neighbours) == [(3, 1.0)]


def _data(n: int = 5) -> ExplorerData:
    rng = np.random.default_rng(0)
    ids = [f"id{i}" for i in range(n - 1)] + ["</script><b>x"]  # an id that must not end the data block
    labels = ["a", "b"] * (n // 2) + ["a"] * (n % 2)
    return ExplorerData(rng.normal(size=(n, 2)), ids, ["<em>p</em>"] * n, np.roll(np.arange(n), 1)[:, None],
                        np.ones((n, 1)), {"label": Colouring(labels, ["a", "b"]), "score": Colouring(list(rng.random(n)))})


def test_the_page_is_self_contained_and_carries_its_data() -> None:
    page = explorer_html(_data())
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page)  # nothing fetched: the file opens offline
    data = _payload(page)
    assert data["ids"][-1] == "</script><b>x" and data["neighbours"][0] == [4] and data["labels"][:2] == ["a", "b"]
    label, score = data["colourings"]["label"], data["colourings"]["score"]
    assert label["codes"] == [0, 1, 0, 1, 0] and label["legend"] == ["a", "b"] and len(label["palette"]) == 2
    assert score["numeric"] and min(score["codes"]) == 0 and max(score["codes"]) == len(score["palette"]) - 1
    assert "points disagree with most of their 1 neighbours" in page


def _payload(page: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', page, re.S).group(1))


def test_map_coordinates_keep_their_spread_far_from_zero() -> None:
    data = _data()
    data.coords = 1e4 + 1e-3 * data.coords  # a map offset far from its spread: rounding must not merge points
    shown = _payload(explorer_html(data))
    assert len(set(shown["x"])) == 5 and min(shown["x"]) == 0.0 and max(shown["y"]) == 1.0


def test_the_report_links_the_explorer_page(tmp_path) -> None:
    from deepfeat.reports import write_report
    from deepfeat.reports.figures import add_index_entry

    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "explorer.html").write_text(explorer_html(_data()))
    add_index_entry(tmp_path, {"name": "explorer", "file": "explorer.html", "title": "Feature explorer",
                               "caption": "", "section": "Features"})
    report = write_report(tmp_path).read_text()
    assert '<a class="page" href="plots/explorer.html">' in report and "Missing plot file" not in report
