"""How fast the feature explorer opens and answers at 10k points, in a real browser (headless Chromium).

Builds a 10,000-point explorer page the way a run does: 8x8 digits (scikit-learn's 1,797, repeated with a little
noise up to 10k) as PNG thumbnails, a PCA map, the 10 nearest neighbours of every point from
:func:`deepfeat.eval.retrieval.exact_search`, colourings by label and cluster. Then opens it from the file in
Chromium (Playwright) and measures, in the page's own clock (``performance.now()``, so Playwright's round trips are
not counted):

- ``drawn_s``: navigation start to the first animation frame with the map drawn,
- ``loaded_s``: navigation start to the page's ``load`` event ended (every script run: the page answers),
- ``hover_s``: the mouse moving onto a point to its preview shown (the ``mousemove`` event to the panel's change),
- ``click_s``: the click on a point to its neighbour list shown,

each the median of ``--repeats`` fresh page loads (hover and click on 5 points per load). ``--pages`` times other
explorer pages in the same run, alternating with the fresh one (for a before/after comparison on a shared machine).

    python benchmarks/bench_explorer.py               # 10k points, 5 loads (~1 min)
    python benchmarks/bench_explorer.py --quick       # 2 loads

Skips (exit 0, a message) without Playwright or Chromium. Writes benchmarks/results/explorer[_quick].json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from _common import table, write_result

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
POINTS = 10_000
HARDWARE = "2-core AMD EPYC, no AMX, shared with other jobs; headless Chromium (software WebGL)"

# Runs in the page before its own scripts: stamps the first frame with the map drawn and the panels' changes.
PROBE = """
window.__t = {};
const drawn = () => { const map = document.getElementById('map');
  if (map && map.dataset.drawn) window.__t.drawn = performance.now(); else requestAnimationFrame(drawn); };
requestAnimationFrame(drawn);
document.addEventListener('DOMContentLoaded', () => {
  for (const id of ['preview', 'neighbours'])
    new MutationObserver(() => { window.__t[id] = performance.now(); })
      .observe(document.getElementById(id), {childList: true, subtree: true});
  document.addEventListener('mousemove', e => { window.__t.move = e.timeStamp; }, true);
  document.addEventListener('mousedown', e => { window.__t.down = e.timeStamp; }, true);
});
"""

def build_page(path: Path) -> Path:
    """A 10k-point explorer page of noisy 8x8 digits, written as a run writes it."""
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    from deepfeat.data.info import DataInfo
    from deepfeat.eval.retrieval import exact_search
    from deepfeat.reports.explorer import Colouring, ExplorerData, write_explorer
    from deepfeat.reports.previews import previews

    digits = load_digits()
    rng = np.random.default_rng(0)
    pick = np.arange(POINTS) % len(digits.target)
    x = np.clip(digits.images[pick] / 16 + rng.normal(0, 0.05, (POINTS, 8, 8)), 0, 1)[:, None].astype(np.float32)
    z = x.reshape(POINTS, -1)
    labels = [str(v) for v in digits.target[pick]]
    dist, idx = exact_search(z, z, 11, "euclidean")
    clusters = [f"cluster {c}" for c in KMeans(10, n_init=1, random_state=0).fit_predict(z)]
    data = ExplorerData(PCA(2, random_state=0).fit_transform(z), [f"test:{i}" for i in range(POINTS)],
                        previews(x, DataInfo("image", (1, 8, 8))), idx[:, 1:], dist[:, 1:],
                        {"label": Colouring(labels, sorted(set(labels))),
                         "cluster": Colouring(clusters, sorted(set(clusters)))}, method="PCA", metric="euclidean")
    return write_explorer(path, data)


def point_xy(page: Any, i: int) -> tuple[float, float]:
    """Where point ``i`` is drawn on the screen."""
    return tuple(page.evaluate("i => window.explorer.screen(i)", i))


def measure(browser: Any, path: Path, points: list[int]) -> dict[str, Any]:
    """One fresh load of ``path``: drawn time, and the hover and click latencies at each of ``points`` (seconds)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.add_init_script(PROBE)
    page.goto(path.resolve().as_uri())
    page.wait_for_function("() => window.__t.drawn", timeout=60_000)
    page.wait_for_load_state("load")
    drawn, loaded = page.evaluate("() => [window.__t.drawn, performance.getEntriesByType('navigation')[0].loadEventEnd]")
    out: dict[str, Any] = {"drawn_s": drawn / 1000, "loaded_s": loaded / 1000, "hover_s": [], "click_s": []}
    page.mouse.move(5, 5)
    for i in points:
        x, y = point_xy(page, i)
        page.mouse.move(x, y)
        page.wait_for_function("() => window.__t.preview > window.__t.move")  # the point picked (or one on its pixels)
        out["hover_s"].append(page.evaluate("() => (window.__t.preview - window.__t.move) / 1000"))
        page.mouse.down()
        page.mouse.up()
        page.wait_for_function("() => window.__t.neighbours > window.__t.down")
        out["click_s"].append(page.evaluate("() => (window.__t.neighbours - window.__t.down) / 1000"))
        page.mouse.move(5, 5)
    page.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 loads instead of 5")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--pages", nargs="*", type=Path, default=[], help="other explorer pages of 10k points to time alongside")
    parser.add_argument("--keep", type=Path, default=None, help="also save the built page here")
    a = parser.parse_args()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("skipped: Playwright is not installed (pip install playwright)")
        return
    if not CHROMIUM.exists():
        print(f"skipped: no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)")
        return
    repeats = a.repeats or (2 if a.quick else 5)
    with tempfile.TemporaryDirectory() as tmp:
        built = build_page(a.keep or Path(tmp) / "explorer.html")
        pages = {"this deepfeat": built, **{str(p): p for p in a.pages}}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in pages}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            for _ in range(repeats):  # alternating, so every page sees the same load on a shared machine
                for name, path in pages.items():
                    runs[name].append(measure(browser, path, [17, 123, 4_321, 7_777, 9_999]))
            browser.close()
        rows = [{"page": name, "MB": round(path.stat().st_size / 1e6, 1),
                 "drawn_s": statistics.median(r["drawn_s"] for r in got),
                 "loaded_s": statistics.median(r["loaded_s"] for r in got),
                 "hover_s": statistics.median(v for r in got for v in r["hover_s"]),
                 "click_s": statistics.median(v for r in got for v in r["click_s"]),
                 "worst_hover_s": max(v for r in got for v in r["hover_s"]),
                 "worst_click_s": max(v for r in got for v in r["click_s"])} for (name, got), path in
                zip(runs.items(), pages.values())]
    load = os.getloadavg()
    print(f"{POINTS:,} points, median of {repeats} loads (hover/click: 5 points each), load average "
          f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end")
    print(table(rows, ["page", "MB", "drawn_s", "loaded_s", "hover_s", "click_s", "worst_hover_s", "worst_click_s"]))
    path = write_result("explorer_quick" if a.quick else "explorer", {
        "hardware": HARDWARE, "points": POINTS, "loads": repeats, "load_average_at_end": [round(v, 2) for v in load],
        "rows": rows, "runs": runs})
    print(f"written: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
