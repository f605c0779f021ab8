"""Plots of sound: waveform + spectrogram grids of recordings, and rows of spectrograms (reconstructions).

Each function takes raw waveforms ``(N, T)`` at ``sample_rate`` Hz and returns a
``matplotlib.figure.Figure`` in the house style. Spectrograms are scipy's short-time power spectra
(Hann window of 25 ms, hop 10 ms, the usual speech settings) in dB relative to the loudest bin of the
figure, so every panel of one figure shares one colour scale and a quieter or noisier clip looks so.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepfeat.reports.figures import PALETTE, house_style, new_figure

WIN_MS, HOP_MS = 25.0, 10.0
DYNAMIC_RANGE_DB = 80.0  # bins quieter than the loudest by more than this are drawn as the floor


def power_spectrogram(wave: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(freqs (F,), times (S,), power (F, S))`` of a waveform ``(T,)`` (scipy.signal.spectrogram)."""
    from scipy.signal import spectrogram

    win = max(8, round(sample_rate * WIN_MS / 1000))
    hop = max(1, round(sample_rate * HOP_MS / 1000))
    wave = np.asarray(wave, dtype=np.float64)
    if len(wave) < win:  # shorter than one window: pad, so there is one frame to show
        wave = np.pad(wave, (0, win - len(wave)))
    return spectrogram(wave, fs=sample_rate, window="hann", nperseg=win, noverlap=win - hop, scaling="spectrum",
                       mode="psd")


def _db(powers: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
    """Powers in dB relative to the loudest bin of all of them, and the floor (``-DYNAMIC_RANGE_DB``)."""
    top = max((float(p.max()) for p in powers), default=0.0)
    ref = top if top > 0 else 1.0
    return [10 * np.log10(np.maximum(p, ref * 1e-12) / ref) for p in powers], -DYNAMIC_RANGE_DB


def _spectrogram(ax: Axes, freqs: np.ndarray, times: np.ndarray, db: np.ndarray, floor: float) -> object:
    ax.grid(False)
    return ax.pcolormesh(times, freqs / 1000, db, shading="auto", vmin=floor, vmax=0.0, cmap="magma",
                         rasterized=True)


@house_style
def waveform_grid(waves: np.ndarray, sample_rate: int, labels: Sequence[str]) -> Figure:
    """Recordings ``(N, T)``: one column each, its waveform above its spectrogram (shared dB scale)."""
    waves = np.asarray(waves, dtype=np.float64)
    n = len(waves)
    specs = [power_spectrogram(w, sample_rate) for w in waves]
    dbs, floor = _db([s[2] for s in specs])
    fig = new_figure(2.6 * n + 0.8, 4.6)
    axes = fig.subplots(2, n, squeeze=False, sharex="col", gridspec_kw={"height_ratios": [1, 1.5]})
    t = np.arange(waves.shape[1]) / sample_rate
    peak = float(np.abs(waves).max()) or 1.0
    mesh = None
    for c in range(n):
        top, bottom = axes[0, c], axes[1, c]
        top.plot(t, waves[c], color=PALETTE[0], linewidth=0.5)
        top.set_ylim(-1.05 * peak, 1.05 * peak)
        top.set_title(labels[c], fontsize=9, fontweight="normal")
        mesh = _spectrogram(bottom, specs[c][0], specs[c][1], dbs[c], floor)
        bottom.set_xlabel("time (s)")
        if c:
            top.tick_params(labelleft=False)
            bottom.tick_params(labelleft=False)
    axes[0, 0].set_ylabel("amplitude")
    axes[1, 0].set_ylabel("frequency (kHz)")
    fig.colorbar(mesh, ax=axes[1, :].tolist(), label="power (dB)", shrink=0.9)
    return fig


@house_style
def spectrogram_rows(rows: Mapping[str, np.ndarray], sample_rate: int, labels: Sequence[str]) -> Figure:
    """One row of spectrograms per entry of ``rows`` (e.g. input / corrupted / reconstruction), arrays ``(N, T)``
    aligned by column; all panels share one dB scale."""
    names, arrays = list(rows), [np.asarray(a, dtype=np.float64) for a in rows.values()]
    n = len(arrays[0])
    specs = [[power_spectrogram(a[c], sample_rate) for c in range(n)] for a in arrays]
    dbs, floor = _db([s[2] for row in specs for s in row])
    fig = new_figure(2.3 * n + 1.6, 1.9 * len(names) + 0.5)
    axes = fig.subplots(len(names), n, squeeze=False, sharex=True, sharey=True)
    mesh = None
    for r, name in enumerate(names):
        for c in range(n):
            f, t, _ = specs[r][c]
            mesh = _spectrogram(axes[r, c], f, t, dbs[r * n + c], floor)
            if r == 0:
                axes[r, c].set_title(labels[c], fontsize=9, fontweight="normal")
            if r == len(names) - 1:
                axes[r, c].set_xlabel("time (s)")
        axes[r, 0].set_ylabel(f"{name}\nfrequency (kHz)")
    fig.colorbar(mesh, ax=axes.ravel().tolist(), label="power (dB)", shrink=0.8)
    return fig
