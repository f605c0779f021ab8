"""Previews of samples in their own medium, as small self-contained HTML snippets for the feature explorer.

One registered preview per way a data kind shows its samples (``DataKind.view``; ``deepfeat list previews``):
``image_grid`` (a PNG thumbnail as a data URI), ``spectrogram_player`` (a playable 16-bit WAV as a data URI),
``series_plot`` (an SVG sparkline per channel), ``text_table`` (the text, shortened), ``feature_plot`` (the first
values of a table row). :func:`medium` says which one a run's data calls for; a new view registers its own. Each takes raw samples ``(N, *input_shape)`` (data space, as the
dataset stores them) and the run's :class:`~deepfeat.data.info.DataInfo`, and returns one snippet per sample.
"""

from __future__ import annotations

import base64
import io
import wave
from html import escape
from typing import Callable

import numpy as np

from deepfeat.data.info import DataInfo
from deepfeat.data.kinds.base import FEATURE_PLOT, IMAGE_GRID, SERIES_PLOT, SOUND, TEXT_TABLE
from deepfeat.data.tokenize import decode_ids
from deepfeat.registry import Registry

Preview = Callable[[np.ndarray, DataInfo], "list[str]"]
PREVIEWS: Registry[list[str]] = Registry("preview", takes=2)
# How many samples of a medium carry a preview: clips weigh ~16 kB a second; thumbnails, text and lines little.
BUDGET = {SOUND: 300}
SOUND_SECONDS = 2.0
TEXT_CHARS = 240
SPARK_POINTS = 96
ELLIPSIS = "\u2026"


def medium(info: DataInfo) -> str:
    """The preview a run's data calls for: the way its data kind shows samples (``DataKind.view``)."""
    return info.kind_spec.view


def previews(x: np.ndarray, info: DataInfo) -> list[str]:
    """One HTML snippet per raw sample of ``x``, in the run's medium (see :func:`medium`)."""
    return PREVIEWS.get(medium(info), "explorer previews")(x, info)


@PREVIEWS.register(IMAGE_GRID, description="PNG thumbnail")
def image_previews(x: np.ndarray, info: DataInfo) -> list[str]:
    """Images ``(N, C, H, W)`` in [0, 1] as ``<img>`` thumbnails (grey for one channel, RGB for three), at their
    own size: the page scales them to 64 pixels wide (nearest neighbour), so small images stay small in the file."""
    from PIL import Image

    out = []
    for img in np.asarray(x, dtype=np.float32):
        pixels = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
        pil = Image.fromarray(pixels[0] if len(pixels) == 1 else np.moveaxis(pixels[:3], 0, -1))
        buf = io.BytesIO()
        pil.save(buf, format="PNG")
        out.append(f'<img class="thumb" alt="sample" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">')
    return out


@PREVIEWS.register(SOUND, description="playable WAV clip")
def sound_previews(x: np.ndarray, info: DataInfo) -> list[str]:
    """Waveforms ``(N, C, T)`` as ``<audio>`` players: channels mixed, the first seconds, peak-normalized."""
    rate = int(info.sample_rate or 8000)
    out = []
    for clip in np.asarray(x, dtype=np.float64).mean(1)[:, : int(rate * SOUND_SECONDS)]:
        peak = float(np.abs(clip).max()) or 1.0
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes((clip / peak * 0.9 * 32767).astype("<i2").tobytes())
        out.append(f'<audio controls preload="none" src="data:audio/wav;base64,{base64.b64encode(buf.getvalue()).decode()}">'
                   "</audio>")
    return out


@PREVIEWS.register(SERIES_PLOT, description="SVG sparkline per channel")
def sequence_previews(x: np.ndarray, info: DataInfo) -> list[str]:
    """Series ``(N, C, T)`` as one SVG polyline per channel (at most :data:`SPARK_POINTS` points each)."""
    out = []
    for series in np.asarray(x, dtype=np.float64):
        step = max(1, series.shape[-1] // SPARK_POINTS)
        lines = []
        for c, channel in enumerate(series[:, ::step]):
            lo, span = channel.min(), float(np.ptp(channel)) or 1.0
            pts = " ".join(f"{i * 200 / max(len(channel) - 1, 1):.1f},{38 - (v - lo) / span * 36:.1f}"
                           for i, v in enumerate(channel))
            lines.append(f'<polyline fill="none" stroke="hsl({c * 67 % 360},60%,40%)" points="{pts}"/>')
        out.append(f'<svg class="spark" viewBox="0 0 200 40" width="200" height="40">{"".join(lines)}</svg>')
    return out


@PREVIEWS.register(TEXT_TABLE, description="the text, shortened")
def text_previews(x: np.ndarray, info: DataInfo) -> list[str]:
    """Token ids ``(N, T)`` decoded with the run's tokenizer, at most :data:`TEXT_CHARS` characters."""
    out = []
    for ids in np.asarray(x).astype(np.int64).tolist():
        text = decode_ids(ids, info.tokenizer or {})
        shown = text[:TEXT_CHARS] + (ELLIPSIS if len(text) > TEXT_CHARS else "")
        out.append(f'<p class="text">{escape(shown)}</p>')
    return out


@PREVIEWS.register(FEATURE_PLOT, description="the first values of the row")
def vector_previews(x: np.ndarray, info: DataInfo) -> list[str]:
    """Table rows ``(N, F)`` as their first 8 values."""
    rows = np.asarray(x, dtype=np.float64)
    return ['<code class="row">' + escape(", ".join(f"{v:.3g}" for v in row[:8]) + (", " + ELLIPSIS if len(row) > 8 else ""))
            + "</code>" for row in rows]
