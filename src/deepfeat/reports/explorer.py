"""The feature explorer: one self-contained, offline HTML page to look through a run's feature space.

A 2-D map of the features drawn with Plotly (WebGL scatter, fast at 10k points; plotly.js inlined, so the file
opens from disk without a network), coloured by any of the run's per-point values (label, prediction, split,
anomaly score, cluster). Hovering a point previews its sample in its own medium
(:mod:`deepfeat.reports.previews`); clicking it lists its nearest neighbours in the full feature space with
their previews and distances; a search box finds a sample by id; a list names the points whose label
disagrees with most of their neighbours' (likely mislabels or confusions). The page's own script only wires
those panels to Plotly's hover and click events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import numpy as np
from matplotlib.colors import to_hex

from deepfeat.atomic import atomic_write
from deepfeat.reports.figures import PALETTE

NEIGHBOURS = 10
COLOURS = [to_hex(c) for c in PALETTE]  # the report's palette, as Plotly takes it


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


def _figure(data: ExplorerData) -> str:
    """The Plotly map as an HTML div with plotly.js inlined, one button per colouring."""
    import plotly.graph_objects as go

    names = list(data.colourings)
    first = data.colourings[names[0]] if names else None
    fig = go.Figure(go.Scattergl(
        x=data.coords[:, 0], y=data.coords[:, 1], mode="markers", customdata=np.arange(len(data.ids)),
        text=data.ids, hovertemplate="%{text}<extra></extra>", marker=dict(size=5, opacity=0.8, **_marker(first))))
    fig.update_layout(
        margin=dict(l=10, r=10, t=40, b=10), height=640, dragmode="pan", hovermode="closest",
        title=f"{data.method} map of {len(data.ids):,} points",
        xaxis=dict(showticklabels=False, zeroline=False), yaxis=dict(showticklabels=False, zeroline=False),
        updatemenus=[dict(type="buttons", direction="right", x=0, y=1.08, xanchor="left", showactive=True, buttons=[
            dict(label=f"colour: {name}", method="restyle",
                 args=[{f"marker.{k}": [v] for k, v in _marker(data.colourings[name]).items()}])
            for name in names])] if len(names) > 1 else [])
    return fig.to_html(full_html=False, include_plotlyjs=True, div_id="map", config={"scrollZoom": True})


def _marker(colouring: Colouring | None) -> dict[str, object]:
    """Marker colours: category codes over a discrete palette, or numbers over a continuous scale."""
    if colouring is None:
        return {"color": COLOURS[0]}
    if colouring.categories is None:
        return {"color": list(colouring.values), "colorscale": "Viridis", "showscale": True,
                "cmin": float(np.min(colouring.values)), "cmax": float(np.max(colouring.values))}
    codes = {c: i for i, c in enumerate(colouring.categories)}
    n = max(len(codes), 1)
    scale = [[edge, COLOURS[i % len(COLOURS)]] for i in range(n) for edge in (i / n, (i + 1) / n)]
    return {"color": [codes[str(v)] for v in colouring.values], "colorscale": scale, "showscale": False,
            "cmin": -0.5, "cmax": n - 0.5}


def explorer_html(data: ExplorerData) -> str:
    """The whole page: map, preview and neighbour panels, id search, the disagreeing points."""
    label = data.colourings.get("label")
    payload = {"ids": data.ids, "previews": data.previews, "neighbours": data.neighbours.tolist(),
               "distances": np.round(data.distances, 5).tolist(),
               "labels": None if label is None else [str(v) for v in label.values]}
    flagged = [] if label is None or label.categories is None else \
        disagreements(np.asarray([str(v) for v in label.values]), data.neighbours)
    rows = "".join(f'<li><button data-point="{i}">{escape(data.ids[i])}</button> label {escape(str(label.values[i]))}, '
                   f"{share:.0%} of its neighbours differ</li>" for i, share in flagged[:200]) if label else ""
    listing = (f"<details><summary>{len(flagged)} points disagree with most of their {data.neighbours.shape[1]} "
               f"neighbours' labels (likely mislabels or confusions)</summary><ol id=\"disagree\">{rows}</ol></details>"
               if label is not None else "")
    blob = json.dumps(payload).replace("</", "<\\/")  # no "</script>" can end the data block early
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(data.title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{escape(data.title)}</h1>"
            f'<p class="about">Hover a point to see its sample; click it for its {data.neighbours.shape[1]} nearest '
            f"neighbours in the full feature space ({escape(data.metric)} distance). Drag to pan, scroll to zoom.</p>"
            f'<div class="layout"><div class="mapbox">{_figure(data)}</div><aside>'
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
.mapbox{min-width:0}aside{max-height:680px;overflow:auto}h2{font-size:1em;margin:.8em 0 .3em}
.panel{border:1px solid #ddd;border-radius:4px;padding:.4em;min-height:2em}#search{width:100%;padding:.3em}
.item{display:flex;gap:.5em;align-items:center;border-bottom:1px solid #eee;padding:.2em 0}
.thumb{image-rendering:pixelated;width:64px}.text{margin:0;font-size:.9em}.spark{display:block}
audio{width:220px}code.row{font-size:.85em}#disagree button,.item button{cursor:pointer}"""

# Wires Plotly's hover and click events to the panels; the previews are trusted HTML made by deepfeat.
_SCRIPT = """
const D = JSON.parse(document.getElementById('explorer-data').textContent);
const map = document.getElementById('map');
const byId = new Map(D.ids.map((id, i) => [id, i]));
function label(i) { return D.labels ? ' \\u00b7 label ' + D.labels[i] : ''; }
function card(i, extra) {
  const div = document.createElement('div'); div.className = 'item'; div.dataset.point = i;
  div.innerHTML = (D.previews[i] || '<em>no preview</em>');
  const info = document.createElement('span'); info.textContent = D.ids[i] + label(i) + (extra || '');
  div.appendChild(info); return div;
}
function preview(i) { const p = document.getElementById('preview'); p.replaceChildren(card(i)); }
function neighbours(i) {
  const n = document.getElementById('neighbours');
  n.replaceChildren(card(i, ' (the point)'),
    ...D.neighbours[i].map((j, r) => card(j, ' \\u00b7 distance ' + D.distances[i][r].toPrecision(4))));
  Plotly.restyle(map, {selectedpoints: [[i, ...D.neighbours[i]]]}, [0]);
}
map.on('plotly_hover', e => preview(e.points[0].customdata));
map.on('plotly_click', e => neighbours(e.points[0].customdata));
document.getElementById('search').addEventListener('change', ev => {
  const i = byId.get(ev.target.value.trim());
  document.getElementById('found').textContent = i === undefined ? 'no sample with that id' : '';
  if (i !== undefined) { preview(i); neighbours(i); }
});
for (const b of document.querySelectorAll('#disagree button'))
  b.addEventListener('click', () => { const i = +b.dataset.point; preview(i); neighbours(i); });
"""
