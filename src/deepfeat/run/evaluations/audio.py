"""Figures of runs on sound: any run whose data kind is shown as sound (``DataKind.view``), at ``DataInfo.sample_rate``.

``audio_examples`` (drawn for every run whose data are waveforms) shows a few labelled
recordings of the evaluation split as waveform + spectrogram and embeds them in the report as playable
clips. :func:`sound_reconstructions` is what the ``reconstructions`` figure draws on sound: spectrograms
of the input / corrupted / reconstructed waveforms, and the same clips to listen to. The learners here
reconstruct the waveform itself, so what is played is the model's output as it is (no vocoder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfeat.data.kinds import SOUND
from deepfeat.data.splits import DataBundle
from deepfeat.reports.audio_plots import HOP_MS, WIN_MS, spectrogram_rows, waveform_grid
from deepfeat.reports.figures import save_figure
from deepfeat.reports.sounds import save_sounds
from deepfeat.run.registries import RunContext, figure

SECTION = "Sound"
EXAMPLE_SEED = 0
SPECTROGRAM = f"spectrograms: scipy, {WIN_MS:g} ms Hann window, {HOP_MS:g} ms hop, dB relative to the loudest bin shown"


def sound_examples(data: DataBundle, split_name: str, split: Any, n: int) -> tuple[torch.Tensor, list[str]]:
    """Up to ``n`` recordings ``(n, C, T)`` (normalized, as the model sees them) of a split, one per class where
    labelled, and a label for each: its class and the split's per-sample metadata (e.g. its speaker)."""
    x, y = next(iter(split.batches(1024)))
    # A seeded shuffle first, so the examples are not all the first speaker's of a sorted split.
    order = np.random.default_rng(EXAMPLE_SEED).permutation(len(x)).tolist()
    if y is None:
        idx = order[:n]
    else:
        first = [next(i for i in order if int(y[i]) == c) for c in torch.unique(y)[:n].tolist()]
        idx = first + [i for i in order if i not in first][: n - len(first)]
    names = data.info.class_names
    groups = split.groups or {}
    labels = []
    for i in idx:
        label = f"{split_name} #{i}" if y is None else f"class {names[int(y[i])] if names else int(y[i])}"
        labels.append(", ".join([label, *(f"{k} {groups[k][i]}" for k in groups)]))
    return x[torch.tensor(idx)], labels


@figure("audio_examples", every_run=True, applies=lambda ctx: ctx.data.info.kind_spec.view == SOUND,
        extras=("audio",), description="Waveform + spectrogram of a few labelled recordings, and the clips to play (sound).")
def audio_examples(ctx: RunContext) -> list[Path]:
    """A few labelled recordings of the evaluation split: waveforms, spectrograms and playable clips."""
    rate = ctx.data.info.sample_rate  # sound: set
    if ctx.run_dir is None:
        return []
    name, split = ctx.eval_split()
    x, labels = sound_examples(ctx.data, name, split, 6)
    waves = ctx.data.info.denormalize(x.float()).mean(1).numpy()  # (N, T): raw waveforms, channels mixed
    png = save_figure(waveform_grid(waves, rate, labels), ctx.run_dir, "audio_examples", title="Recordings",
                      section=SECTION, caption=f"{len(waves)} recordings of the {name} split (one per class where "
                      f"labelled) at {rate} Hz: waveform above, spectrogram below ({SPECTROGRAM}).")
    wavs = save_sounds(ctx.run_dir, "audio_examples_clips", labels, ["original"], waves[:, None], rate,
                       title="Listen: recordings", section=SECTION,
                       caption=f"The recordings above as the model reads them ({rate} Hz, cropped or padded).")
    return [png, *wavs]


def sound_reconstructions(ctx: RunContext, rows: dict[str, np.ndarray], labels: list[str], split_name: str) -> list[Path]:
    """Reconstructions of waveforms: rows (``{"input": (N, C, T), ...}``, raw values) as spectrograms and as clips."""
    rate = ctx.data.info.sample_rate
    waves = {k: np.asarray(v, dtype=np.float64).mean(1) for k, v in rows.items()}  # (N, T) each
    kinds = " / ".join(rows)
    png = save_figure(spectrogram_rows(waves, rate, labels), ctx.run_dir, "reconstructions",
                      title="Reconstructions (spectrograms)", section="Autoencoder",
                      caption=f"{kinds} waveforms of {split_name} recordings, shown as spectrograms ({SPECTROGRAM}). "
                              "The model outputs waveforms; these are the spectrograms of its output.")
    clips = np.stack([waves[k] for k in waves], axis=1)  # (N, rows, T)
    wavs = save_sounds(ctx.run_dir, "reconstructions_clips", labels, list(waves), clips, rate,
                       title="Listen: reconstructions", section="Autoencoder",
                       caption=f"{kinds} as the model's waveforms at {rate} Hz (each row at one gain, so "
                               "loudness compares across a row).")
    return [png, *wavs]
