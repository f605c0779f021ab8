"""Reading recordings: soundfile (libsndfile) decodes, torchaudio resamples; every clip comes out the same shape.

A clip becomes ``(1, length)`` float32 at ``sample_rate``: channels are averaged to mono, the signal
is resampled (``torchaudio.functional.resample``, windowed sinc) when the file has another rate, then
cropped to its first ``length`` samples or zero-padded at the end. Only the frames that survive the
crop are read, so a 5-minute file costs no more than a 1-second one. What a bad file does:

- empty, truncated or not audio (whatever its suffix): :class:`DataError` naming the file (a WAV whose
  data chunk is shorter than its header says is truncated: libsndfile alone would read it silently);
- no samples at all: :class:`DataError`;
- stereo / multi-channel: averaged to mono; another sample rate: resampled;
- longer than ``length``: cropped; shorter (even shorter than one STFT frame): zero-padded.

Both libraries live in the ``audio`` extra (``pip install 'deepfeat[audio]'``).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfeat.data.folders import first_line
from deepfeat.errors import ConfigError, DataError
from deepfeat.extras import load

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
# A data chunk size streaming writers and RF64 files leave in place of the real one (given elsewhere or unknown).
_UNKNOWN_SIZE = 0xFFFFFFFF


def soundfile_module() -> Any:
    """The ``soundfile`` module, or a :class:`ConfigError` saying how to install it."""
    return load("soundfile", "audio", "reading audio")


def resample(wave: torch.Tensor, orig: int, new: int) -> torch.Tensor:
    """``wave`` (..., T) from ``orig`` Hz to ``new`` Hz with torchaudio's band-limited sinc resampler."""
    if orig == new:
        return wave
    return load("torchaudio.functional", "audio", "resampling audio").resample(wave, orig, new)


def check_rate(sample_rate: Any, duration: Any, where: str) -> int:
    """The clip length in samples for ``sample_rate`` Hz and ``duration`` seconds, both checked."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 1000:
        raise ConfigError(f"sample_rate at {where}.sample_rate: expected an integer rate in Hz >= 1000, got "
                          f"{sample_rate!r}. Use e.g. 8000 or 16000.")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 < duration <= 600:
        raise ConfigError(f"duration at {where}.duration: expected seconds in (0, 600], got {duration!r}. "
                          "Use e.g. 1.0 (clips are cropped or zero-padded to it).")
    return max(1, round(sample_rate * duration))


def audio_info(path: Path, where: str) -> Any:
    """soundfile's header of ``path`` (rate, channels, frames); :class:`DataError` for an unreadable file."""
    sf = soundfile_module()
    try:
        info = sf.info(str(path))
    except Exception as exc:  # noqa: BLE001 - libsndfile raises LibsndfileError, RuntimeError, TypeError, ...
        size = path.stat().st_size if path.exists() else 0
        what = "an empty file (0 bytes)" if size == 0 else f"a file libsndfile cannot decode ({first_line(exc)})"
        raise DataError(f"audio file {path} at {where}: expected a WAV, FLAC or OGG recording, got {what}. "
                        "Remove or replace the file.") from None
    if info.frames <= 0:
        raise DataError(f"audio file {path} at {where}: expected at least one sample, got none. Remove the file.")
    cut = wav_shortfall(path)
    if cut is not None:
        raise DataError(f"audio file {path} at {where}: expected the {cut[0]} bytes of samples its WAV header "
                        f"declares, got {cut[1]}: the file is truncated. Copy it again, or remove it.")
    return info


def wav_shortfall(path: Path) -> tuple[int, int] | None:
    """``(bytes declared, bytes present)`` of a RIFF/WAVE file's data chunk when the file ends inside it, else None."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:  # walk the chunks (fmt, LIST, ...) to the data chunk
            f.seek(pos)
            chunk, length = struct.unpack("<4sI", f.read(8))
            if chunk == b"data":
                present = size - pos - 8
                return (length, present) if present < length and length != _UNKNOWN_SIZE else None
            pos += 8 + length + length % 2  # chunks are padded to an even size
    return None


def read_audio(path: str | Path, sample_rate: int, length: int, where: str = "data") -> torch.Tensor:
    """One recording as ``(1, length)`` float32 at ``sample_rate`` Hz: mono, resampled, cropped or padded."""
    path = Path(path)
    info = audio_info(path, where)
    # Read only what survives the crop (plus a little for the resampler's filter at the edge).
    needed = min(info.frames, math.ceil(length * info.samplerate / sample_rate) + 64)
    sf = soundfile_module()
    try:
        data, rate = sf.read(str(path), frames=needed, dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - a header that parses but data that does not (truncated file)
        raise DataError(f"audio file {path} at {where}: expected readable samples, got an error while decoding "
                        f"({first_line(exc)}): the file is truncated or damaged. Remove or replace it.") from None
    if data.shape[0] == 0:
        raise DataError(f"audio file {path} at {where}: expected at least one sample, got none. Remove the file.")
    wave = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))[None]  # (1, frames), mono
    return fix_length(resample(wave, int(rate), sample_rate), length)


def fix_length(wave: torch.Tensor, length: int) -> torch.Tensor:
    """``wave`` (..., T) cropped to its first ``length`` samples or zero-padded at the end to ``length``."""
    t = wave.shape[-1]
    if t >= length:
        return wave[..., :length].contiguous()
    return torch.nn.functional.pad(wave, (0, length - t))
