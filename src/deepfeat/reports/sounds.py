"""Playable sound clips in a run's report: WAV files in ``plots/`` and an entry in ``plots/index.json``.

``save_sounds`` writes one 16-bit PCM WAV per clip with soundfile (libsndfile, the ``audio`` extra) and
records a table of clips (rows: recordings, columns: e.g. original / corrupted / reconstructed) next to
the figures, so :func:`deepfeat.reports.write_report` embeds them as ``<audio>`` elements with data URIs,
self-contained like the images. ``sounds_html`` renders such an entry.
"""

from __future__ import annotations

import base64
import os
from html import escape
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from deepfeat.atomic import atomic_write
from deepfeat.errors import ConfigError
from deepfeat.extras import load
from deepfeat.layout import PLOTS_DIR
from deepfeat.reports.figures import add_index_entry, check_name

PEAK = 0.99  # clips louder than this are scaled down together (PCM saturates at 1.0)
PLAYER_STYLE = "width: 100%; min-width: 160px"  # players fill their table column


def _soundfile() -> Any:
    return load("soundfile", "audio", "writing sound clips")


def save_sounds(run_dir: str | os.PathLike[str], name: str, rows: Sequence[str], columns: Sequence[str],
                clips: np.ndarray, sample_rate: int, *, title: str, caption: str, section: str) -> list[Path]:
    """Write ``clips`` ``(len(rows), len(columns), T)`` as WAVs ``plots/<name>-<r>-<c>.wav`` and index them.

    The clips of a row share one gain (scaled down only when their loudest sample exceeds :data:`PEAK`),
    so a corrupted clip stays as much louder than its original as it really is. Returns the WAV paths.
    """
    check_name(name, "save_sounds")
    clips = np.asarray(clips, dtype=np.float64)
    if clips.ndim != 3 or clips.shape[:2] != (len(rows), len(columns)):
        raise ConfigError(f"clips at save_sounds: expected shape ({len(rows)}, {len(columns)}, T), got {clips.shape}")
    sf = _soundfile()
    plots = Path(run_dir) / PLOTS_DIR
    plots.mkdir(parents=True, exist_ok=True)
    paths, table = [], []
    for r, label in enumerate(rows):
        peak = float(np.abs(clips[r]).max()) if clips[r].size else 0.0
        gain = PEAK / peak if peak > PEAK else 1.0
        files = []
        for c in range(len(columns)):
            path = plots / f"{name}-{r}-{c}.wav"
            clip = (clips[r, c] * gain).astype(np.float32)
            atomic_write(path, lambda tmp: sf.write(tmp, clip, int(sample_rate), format="WAV", subtype="PCM_16"))
            paths.append(path)
            files.append(path.name)
        table.append({"label": str(label), "files": files, "gain": round(gain, 4)})
    add_index_entry(run_dir, {"name": name, "title": title, "caption": caption, "section": section,
                              "sounds": {"columns": [str(c) for c in columns], "rows": table}})
    return paths


def sounds_html(plots: Path, sounds: Any) -> str:
    """A table of ``<audio>`` players for a ``sounds`` index entry, each clip inlined as a WAV data URI."""
    if not isinstance(sounds, dict) or not isinstance(sounds.get("rows"), list):
        return '<p class="missing">Malformed sound entry in plots/index.json.</p>'
    columns = [escape(str(c)) for c in sounds.get("columns") or []]
    head = "".join(f"<th>{c}</th>" for c in ["recording", *columns])
    body = []
    for row in sounds["rows"]:
        if not isinstance(row, dict):
            continue
        cells = [escape(str(row.get("label", "")))]
        for file in row.get("files") or []:
            wav = plots / Path(str(file)).name  # a bare name inside plots/: the index must not point elsewhere
            if wav.suffix == ".wav" and wav.is_file():
                data = base64.b64encode(wav.read_bytes()).decode("ascii")
                # preload="metadata": the clip is inline anyway, and the player then shows its duration.
                cells.append(f'<audio controls preload="metadata" style="{PLAYER_STYLE}" '
                             f'src="data:audio/wav;base64,{data}"></audio>')
            else:
                cells.append(f'<span class="missing">missing {escape(wav.name)}</span>')
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
