"""The feature explorer: one self-contained, offline HTML page to look through a run's feature space.

A 2-D map of the features drawn on a canvas by the page's own short script (no plotting library: plotly.js alone
takes 1-2 s to evaluate on a busy 2-core machine, longer than the whole page needs to open at 10k points),
coloured by any of the run's per-point values (label, prediction, split, anomaly score, cluster). Hovering a point
previews its sample in its own medium (:mod:`deepfeat.reports.previews`); clicking it lists its nearest neighbours
in the full feature space with their previews and distances; a search box finds a sample by id; a list names the
points whose label disagrees with most of their neighbours' (likely mislabels or confusions). Drag pans, the wheel
zooms, a double click resets the view. Everything the page shows is one JSON block: coordinates, one palette
index per point per colouring, previews, and the neighbour lists computed here, in Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex

from deepfeat.atomic import atomic_write
from deepfeat.reports.figures import PALETTE

NEIGHBOURS = 10
COLOURS = [to_hex(c) for c in PALETTE]  # the report's palette, for categories
RAMP = 64  # steps of the Viridis ramp numbers are drawn with
VIRIDIS = [to_hex(colormaps["viridis"](t)) for t in np.linspace(0, 1, RAMP)]


@dataclass
class Colouring:
    """Per-point values to colour the map by: category names ``(N,)`` (``categories`` set) or numbers ``(N,)``."""

    values: list[str] | list[float]
    categories: list[str] | None = None


@dataclass
class ExplorerData:
    """What the page shows, for N points: 2-D ``coords (N, 2)``, ``ids``, ``previews`` (HTML snippets, "" for
    none), nearest ``neighbours (N, k)`` (point indices, self excluded) with their ``distances``, and colourings."""

    coords: np.ndarray
    ids: list[str]
    previews: list[str]
    neighbours: np.ndarray
    distances: np.ndarray
    colourings: dict[str, Colouring] = field(default_factory=dict)
    title: str = "Feature explorer"
    method: str = "PCA"
    metric: str = "cosine"


def disagreements(labels: np.ndarray, neighbours: np.ndarray) -> list[tuple[int, float]]:
    """``(point, share)`` of the points whose label differs from the majority of their neighbours' labels
    ``(N, k)``, ``share`` the fraction of neighbours with another label; most disagreeing first."""
    other = labels[neighbours] != labels[:, None]
    share = other.mean(1)
    flagged = np.flatnonzero(share > 0.5)
    return [(int(i), float(share[i])) for i in flagged[np.argsort(-share[flagged], kind="stable")]]


def _palette(colouring: Colouring) -> dict[str, object]:
    """One colouring as the page draws it: a ``palette`` of CSS colours, each point's ``codes`` into it, and a
    ``legend`` (category names, or the numbers' ``[min, max]`` over a Viridis ramp of :data:`RAMP` steps)."""
    if colouring.categories is None:
        values = np.asarray(colouring.values, dtype=np.float64)
        lo, hi = float(values.min()), float(values.max())
        codes = np.round((values - lo) / ((hi - lo) or 1.0) * (RAMP - 1)).astype(int)
        return {"palette": VIRIDIS, "codes": codes.tolist(), "legend": [_short(lo), _short(hi)], "numeric": True}
    index = {c: i for i, c in enumerate(colouring.categories)}
    return {"palette": [COLOURS[i % len(COLOURS)] for i in range(len(index))],
            "codes": [index[str(v)] for v in colouring.values], "legend": list(colouring.categories), "numeric": False}


def _unit(values: np.ndarray) -> list[float]:
    """Map coordinates ``(N,)`` rescaled to [0, 1] at 4 decimals: a tenth of a pixel on the page, whatever their
    offset (the map shows no axes, only where points lie relative to each other)."""
    lo, span = float(np.min(values)), float(np.ptp(values)) or 1.0
    return np.round((np.asarray(values, dtype=np.float64) - lo) / span, 4).tolist()


def _short(value: float) -> float:
    """``value`` to 4 significant digits: what the page shows, at a third of the JSON."""
    return float(f"{value:.4g}")


def explorer_html(data: ExplorerData) -> str:
    """The whole page: map, colour buttons, preview and neighbour panels, id search, the disagreeing points."""
    label = data.colourings.get("label")
    payload = {"x": _unit(data.coords[:, 0]), "y": _unit(data.coords[:, 1]),
               "ids": data.ids, "previews": data.previews, "neighbours": data.neighbours.tolist(),
               "distances": [[_short(v) for v in row] for row in data.distances.tolist()],
               "labels": None if label is None else [str(v) for v in label.values],
               "colourings": {name: _palette(c) for name, c in data.colourings.items()}}
    flagged = [] if label is None or label.categories is None else \
        disagreements(np.asarray([str(v) for v in label.values]), data.neighbours)
    rows = "".join(f'<li><button data-point="{i}">{escape(data.ids[i])}</button> label {escape(str(label.values[i]))}, '
                   f"{share:.0%} of its neighbours differ</li>" for i, share in flagged[:200]) if label else ""
    listing = (f"<details><summary>{len(flagged)} points disagree with most of their {data.neighbours.shape[1]} "
               f"neighbours' labels (likely mislabels or confusions)</summary><ol id=\"disagree\">{rows}</ol></details>"
               if label is not None else "")
    blob = json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")  # no "</script>" can end the block
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(data.title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{escape(data.title)}</h1>"
            f'<p class="about">{escape(data.method)} map of {len(data.ids):,} points. Hover a point to see its sample; '
            f"click it for its {data.neighbours.shape[1]} nearest neighbours in the full feature space "
            f"({escape(data.metric)} distance). Drag to pan, scroll to zoom, double-click to reset.</p>"
            '<div class="layout"><div class="mapbox"><div id="colours"></div><div id="legend"></div>'
            '<canvas id="map"></canvas></div><aside>'
            '<input id="search" type="search" placeholder="find a sample by id">'
            f'<div id="found"></div><h2>Preview</h2><div id="preview" class="panel">hover a point</div>'
            '<h2>Nearest neighbours</h2><div id="neighbours" class="panel">click a point</div></aside></div>'
            f'{listing}<script type="application/json" id="explorer-data">{blob}</script><script>{_SCRIPT}</script>'
            "</body></html>\n")


def write_explorer(path: Path, data: ExplorerData) -> Path:
    """Write the page to ``path`` atomically; returns ``path``."""
    page = explorer_html(data)
    atomic_write(path, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    return path


_CSS = """body{font-family:system-ui,sans-serif;margin:1em;color:#222}h1{font-size:1.3em;margin:.2em 0}
.about{color:#555;margin:.2em 0 .6em}.layout{display:grid;grid-template-columns:minmax(0,1fr) 340px;gap:1em}
.mapbox{min-width:0}#map{display:block;width:100%;height:600px;border:1px solid #ddd;cursor:crosshair}
#colours button{margin:0 .3em .3em 0}#colours button.on{font-weight:bold}#legend{font-size:.85em;margin-bottom:.3em}
#legend>span{margin-right:.8em;white-space:nowrap}.sw{display:inline-block;width:.8em;height:.8em;margin-right:.2em}
.ramp{display:inline-block;width:160px;height:.8em;margin:0 .4em;vertical-align:middle}
aside{max-height:680px;overflow:auto}h2{font-size:1em;margin:.8em 0 .3em}
.panel{border:1px solid #ddd;border-radius:4px;padding:.4em;min-height:2em}#search{width:100%;padding:.3em}
.item{display:flex;flex-wrap:wrap;gap:.2em .5em;align-items:center;border-bottom:1px solid #eee;padding:.2em 0}
.thumb{image-rendering:pixelated;width:64px}.text{margin:0;font-size:.9em;flex:1 1 100%}.item>span{flex:1 1 10em}.spark{display:block}
audio{width:220px}code.row{font-size:.85em}#disagree button,.item button{cursor:pointer}"""

# Draws the map (one canvas path per colour), pans and zooms it, and wires hover and click to the panels;
# the previews are trusted HTML made by deepfeat. window.explorer.screen(i) gives a point's place on the screen.
_SCRIPT = """
const D = JSON.parse(document.getElementById('explorer-data').textContent);
const map = document.getElementById('map'), ctx = map.getContext('2d');
const N = D.ids.length, R = 2.5, names = Object.keys(D.colourings);
const byId = new Map(D.ids.map((id, i) => [id, i]));
const sx = new Float32Array(N), sy = new Float32Array(N), groups = {};
let view, colouring = names[0], chosen = [], hovered = -1, queued = false, drag = null;
function fit() {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < N; i++) {
    x0 = Math.min(x0, D.x[i]); x1 = Math.max(x1, D.x[i]); y0 = Math.min(y0, D.y[i]); y1 = Math.max(y1, D.y[i]);
  }
  const mx = (x1 - x0) * 0.04 || 1, my = (y1 - y0) * 0.04 || 1;
  view = {x0: x0 - mx, x1: x1 + mx, y0: y0 - my, y1: y1 + my};
}
function grouped(name) {
  if (!groups[name]) {
    const g = D.colourings[name].palette.map(() => []);
    D.colourings[name].codes.forEach((c, i) => g[c].push(i));
    groups[name] = g;
  }
  return groups[name];
}
function draw() {
  queued = false;
  const dpr = window.devicePixelRatio || 1, w = map.clientWidth, h = map.clientHeight;
  if (map.width !== Math.round(w * dpr) || map.height !== Math.round(h * dpr)) {
    map.width = Math.round(w * dpr); map.height = Math.round(h * dpr);
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0); ctx.clearRect(0, 0, w, h);
  const kx = w / (view.x1 - view.x0), ky = h / (view.y1 - view.y0);
  for (let i = 0; i < N; i++) { sx[i] = (D.x[i] - view.x0) * kx; sy[i] = h - (D.y[i] - view.y0) * ky; }
  const palette = colouring ? D.colourings[colouring].palette : ['#1f77b4'];
  const sets = colouring ? grouped(colouring) : [Array.from({length: N}, (_, i) => i)];
  ctx.globalAlpha = 0.8;
  sets.forEach((set, c) => {
    ctx.fillStyle = palette[c]; ctx.beginPath();
    for (const i of set) ctx.rect(sx[i] - R, sy[i] - R, 2 * R, 2 * R);
    ctx.fill();
  });
  ctx.globalAlpha = 1; ctx.lineWidth = 1.5;
  chosen.forEach((i, r) => {
    ctx.strokeStyle = r ? '#000' : '#d00'; ctx.strokeRect(sx[i] - R - 2, sy[i] - R - 2, 2 * R + 4, 2 * R + 4);
  });
  map.dataset.drawn = '1';
}
function redraw() { if (!queued) { queued = true; requestAnimationFrame(draw); } }
function legend() {
  const box = document.getElementById('legend');
  box.replaceChildren();
  for (const b of document.querySelectorAll('#colours button')) b.classList.toggle('on', b.dataset.name === colouring);
  if (!colouring) return;
  const c = D.colourings[colouring];
  if (c.numeric) {
    const ramp = document.createElement('span'); ramp.className = 'ramp';
    ramp.style.background = 'linear-gradient(to right,' + c.palette.filter((_, j) => j % 8 === 0).join(',') + ')';
    box.append(String(c.legend[0]), ramp, String(c.legend[1]));
    return;
  }
  c.legend.slice(0, 30).forEach((name, j) => {
    const item = document.createElement('span'), sw = document.createElement('span');
    sw.className = 'sw'; sw.style.background = c.palette[j]; item.append(sw, name); box.append(item);
  });
}
function nearest(e) {
  const r = map.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top;
  let best = -1, bd = 64;
  for (let i = 0; i < N; i++) {
    const dx = sx[i] - px, dy = sy[i] - py, d = dx * dx + dy * dy;
    if (d < bd) { bd = d; best = i; }
  }
  return best;
}
function label(i) { return D.labels ? ' \\u00b7 label ' + D.labels[i] : ''; }
function card(i, extra) {
  const div = document.createElement('div'); div.className = 'item'; div.dataset.point = i;
  div.innerHTML = (D.previews[i] || '<em>no preview</em>');
  const info = document.createElement('span'); info.textContent = D.ids[i] + label(i) + (extra || '');
  div.appendChild(info); return div;
}
function preview(i) { document.getElementById('preview').replaceChildren(card(i)); }
function neighbours(i) {
  document.getElementById('neighbours').replaceChildren(card(i, ' (the point)'),
    ...D.neighbours[i].map((j, r) => card(j, ' \\u00b7 distance ' + D.distances[i][r].toPrecision(4))));
  chosen = [i, ...D.neighbours[i]]; redraw();
}
map.addEventListener('mousedown', e => { drag = {x0: e.clientX, y0: e.clientY, x: e.clientX, y: e.clientY, moved: false}; });
window.addEventListener('mousemove', e => {
  if (drag && e.buttons) {
    drag.moved = drag.moved || Math.abs(e.clientX - drag.x0) + Math.abs(e.clientY - drag.y0) > 3;
    if (drag.moved) {
      const fx = (view.x1 - view.x0) / map.clientWidth * (e.clientX - drag.x);
      const fy = (view.y1 - view.y0) / map.clientHeight * (e.clientY - drag.y);
      view = {x0: view.x0 - fx, x1: view.x1 - fx, y0: view.y0 + fy, y1: view.y1 + fy};
      drag.x = e.clientX; drag.y = e.clientY; redraw();
    }
    return;
  }
  if (e.target !== map) return;
  const i = nearest(e);
  if (i >= 0 && i !== hovered) { hovered = i; map.title = D.ids[i] + label(i); preview(i); }
});
window.addEventListener('mouseup', e => {
  if (drag && !drag.moved && e.target === map) { const i = nearest(e); if (i >= 0) neighbours(i); }
  drag = null;
});
map.addEventListener('wheel', e => {
  e.preventDefault();
  const r = map.getBoundingClientRect(), f = Math.exp(e.deltaY * 0.002);
  const cx = view.x0 + (e.clientX - r.left) / map.clientWidth * (view.x1 - view.x0);
  const cy = view.y1 - (e.clientY - r.top) / map.clientHeight * (view.y1 - view.y0);
  view = {x0: cx + (view.x0 - cx) * f, x1: cx + (view.x1 - cx) * f, y0: cy + (view.y0 - cy) * f, y1: cy + (view.y1 - cy) * f};
  redraw();
}, {passive: false});
map.addEventListener('dblclick', () => { fit(); redraw(); });
window.addEventListener('resize', redraw);
for (const name of names) {
  const b = document.createElement('button'); b.textContent = 'colour: ' + name; b.dataset.name = name;
  b.addEventListener('click', () => { colouring = name; legend(); redraw(); });
  document.getElementById('colours').append(b);
}
document.getElementById('search').addEventListener('change', ev => {
  const i = byId.get(ev.target.value.trim());
  document.getElementById('found').textContent = i === undefined ? 'no sample with that id' : '';
  if (i !== undefined) { preview(i); neighbours(i); }
});
for (const b of document.querySelectorAll('#disagree button'))
  b.addEventListener('click', () => { const i = +b.dataset.point; preview(i); neighbours(i); });
window.explorer = {screen: i => { const r = map.getBoundingClientRect(); return [r.left + sx[i], r.top + sy[i]]; }};
fit(); legend(); draw();
"""
