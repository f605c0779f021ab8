"""The report's inline stylesheet: light theme, system fonts, one narrow column (no web fonts)."""

from __future__ import annotations

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #f6f8fa; --accent: #1f77b4;
        --warn: #b35900; --card: #ffffff; --stripe: #f3f6f9; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
       font: 15px/1.5 -apple-system, "Segoe UI", "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 28px 24px 48px; }
header { border-bottom: 3px solid var(--accent); margin-bottom: 20px; padding-bottom: 10px; }
h1 { font-size: 26px; margin: 0 0 4px; word-break: break-all; }
h2 { font-size: 19px; margin: 0 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.sub { color: var(--muted); margin: 0; font-size: 13px; }
code, pre { font-family: "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
          padding: 16px 20px; margin: 18px 0; }
.notice { background: #fff8e6; border: 1px solid #f0d48a; border-left: 4px solid var(--warn);
          border-radius: 6px; padding: 8px 12px; margin: 8px 0; font-size: 14px; }
.missing { color: var(--muted); font-style: italic; margin: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin: 18px 0; }
.card { background: var(--card); border: 1px solid var(--line); border-top: 4px solid var(--accent);
        border-radius: 8px; padding: 10px 14px; }
.card.warn { border-top-color: var(--warn); }
.card.lead { border-top-color: #2ca02c; background: #f5fbf5; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .note { color: var(--muted); font-size: 12px; min-height: 1.2em; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 20px; margin: 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
th, td { padding: 6px 10px; text-align: left; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eaeef2; font-weight: 600; white-space: nowrap; }
tbody tr:nth-child(even) { background: var(--stripe); }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.small, .small code { font-size: 12px; color: var(--muted); }
figure { margin: 0 0 22px; }
figure:last-child { margin-bottom: 0; }
figcaption { margin-bottom: 8px; color: var(--muted); font-size: 14px; }
figcaption strong { color: var(--fg); margin-right: 6px; }
img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 12px;
      overflow-x: auto; margin: 0; line-height: 1.45; }
"""
