"""Plots of text models: texts next to what a sequence autoencoder decodes from their codes."""

from __future__ import annotations

import textwrap
from typing import Sequence

from matplotlib.figure import Figure

from deepfeat.reports.figures import PALETTE, house_style, new_figure

WIDTH = 100  # characters per line before a text wraps


@house_style
def text_reconstruction_table(rows: Sequence[tuple[str, str, str, str]]) -> Figure:
    """One block per ``(label, input text, decoded text, note)``: the input above its decoding."""
    blocks = [(label, textwrap.wrap(src, WIDTH) or [""], textwrap.wrap(out, WIDTH) or [""], note)
              for label, src, out, note in rows]
    lines = sum(1 + len(a) + len(b) for _, a, b, _ in blocks) + len(blocks)
    fig = new_figure(10.0, 0.19 * lines + 0.3)
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(lines, 0)
    y = 0.0
    for label, src, out, note in blocks:
        ax.text(0, y, f"{label}  {note}".strip(), va="top", fontsize=9, fontweight="bold", color="0.25")
        y += 1
        for text, color, tag in ((src, "black", "input"), (out, PALETTE[0], "decoded")):
            for i, line in enumerate(text):
                ax.text(0, y, tag if i == 0 else "", va="top", fontsize=8, color="0.45")
                ax.text(0.075, y, line, va="top", fontsize=8.5, family="monospace", color=color)
                y += 1
        y += 1
    return fig
