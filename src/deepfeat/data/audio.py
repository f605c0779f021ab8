"""Speech and sound datasets: the Free Spoken Digit Dataset, and any folder of recordings (streamed).

Samples are raw waveforms ``(1, length)`` at the configured ``sample_rate`` (kind "audio"); the
spectrogram front-ends are part of the model (:mod:`deepfeat.nn.audio_frontend`), so an exported
model takes waveforms. ``DataInfo.reader`` keeps ``{sample_rate, duration}``, so new recordings (at
any rate) are read as in training by ``deepfeat embed RUN --data folder``. How bad files are handled:
:mod:`deepfeat.data.audio_io`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from deepfeat.data.audio_io import AUDIO_SUFFIXES, audio_info, check_rate, read_audio
from deepfeat.data.bundle import LoadOptions, check_fractions, make_bundle, split_indices, subsample
from deepfeat.data.datasets import always_available, data_root, register_dataset
from deepfeat.data.folders import OnError, check_inside, screen
from deepfeat.data.info import DataInfo
from deepfeat.data.kinds.audio import AUDIO
from deepfeat.data.splits import DataBundle, StreamSplit
from deepfeat.data.validation_policy import resolve_val_fraction
from deepfeat.errors import ConfigError, DataError

FSDD_TEST_REPETITIONS = 5  # the dataset's own convention: repetitions 0-4 of every digit and speaker are the test set


def _fsdd_folder(root: str | None) -> Path:
    return data_root(root) / "fsdd" / "recordings"


def _fsdd_available() -> tuple[bool, str]:
    folder = _fsdd_folder(None)
    count = len(list(folder.glob("*.wav"))) if folder.is_dir() else 0
    return (True, f"{folder} ({count} recordings)") if count else (False, f"no .wav files in {folder}")


def _fsdd_files(folder: Path, where: str) -> tuple[list[Path], np.ndarray, np.ndarray, np.ndarray]:
    """Files ``{digit}_{speaker}_{index}.wav`` and, per file, digit, speaker and repetition index."""
    files = sorted(folder.glob("*.wav")) if folder.is_dir() else []
    if not files:
        raise DataError(f"dataset 'fsdd' at {where}: expected recordings {{digit}}_{{speaker}}_{{index}}.wav in {folder}, "
                        "got none. Set data.root or DEEPFEAT_DATA to the folder holding fsdd/recordings/.")
    parts = [f.stem.split("_") for f in files]
    bad = [f.name for f, p in zip(files, parts) if len(p) != 3 or not (p[0].isdigit() and p[2].isdigit())]
    if bad:
        raise DataError(f"dataset 'fsdd' at {where}: expected file names {{digit}}_{{speaker}}_{{index}}.wav, got "
                        f"{bad[0]} (and {len(bad) - 1} more) in {folder}. Remove files that are not FSDD recordings.")
    digits = np.array([int(p[0]) for p in parts])
    speakers = np.array([p[1] for p in parts])
    reps = np.array([int(p[2]) for p in parts])
    return files, digits, speakers, reps


def _read_all(files: list[Path], sample_rate: int, length: int, where: str) -> torch.Tensor:
    if not files:
        return torch.zeros(0, 1, length)
    return torch.stack([read_audio(f, sample_rate, length, where) for f in files])


@register_dataset("fsdd", aliases=("free_spoken_digits",), available=_fsdd_available,
                  description="Free Spoken Digit Dataset: 3,000 recordings of 0-9 by 6 speakers, 8 kHz (waveforms)")
def fsdd(
    root: str | None = None,
    sample_rate: int = 8000,
    duration: float = 1.0,
    split: str = "official",
    test_speaker: str = "jackson",
    speakers: list[str] | None = None,
    test_repetitions: int = FSDD_TEST_REPETITIONS,
    target: str = "digit",
    limit: int | None = None,
    test_limit: int | None = None,
    *,
    options: LoadOptions = LoadOptions(),
) -> DataBundle:
    """FSDD (Jakobovski et al.) as waveforms ``(1, sample_rate * duration)``, labelled by digit (or speaker).

    ``split: official`` tests on repetitions 0-4 of every digit and speaker (300 recordings, the
    dataset's convention); ``split: speaker`` tests on every recording of ``test_speaker`` and trains
    on the other speakers (leave-one-speaker-out). Validation is drawn from the training part.
    ``speakers`` keeps only those speakers' recordings (e.g. a new speaker to transfer to); with it,
    ``test_repetitions: 25`` tests on half of each speaker's 50 repetitions rather than 5.
    ``limit`` / ``test_limit`` keep stratified subsets (read only those files).
    """
    where = options.where
    length = check_rate(sample_rate, duration, where)
    files, digits, speaker_of, reps = _fsdd_files(_fsdd_folder(root), where)
    if speakers is not None:
        known = sorted(set(speaker_of))
        wanted = [speakers] if isinstance(speakers, str) else list(speakers)
        unknown = [s for s in wanted if s not in known]
        if unknown or not wanted:
            raise ConfigError(f"speakers at {where}.speakers: expected names among {', '.join(known)}, got {speakers!r}.")
        keep = np.isin(speaker_of, wanted)
        files, digits, speaker_of, reps = [f for f, k in zip(files, keep) if k], digits[keep], speaker_of[keep], reps[keep]
    if isinstance(test_repetitions, bool) or not isinstance(test_repetitions, int) or not 1 <= test_repetitions < 50:
        raise ConfigError(f"test_repetitions at {where}.test_repetitions: expected an integer from 1 to 49, "
                          f"got {test_repetitions!r}.")
    if split == "official":
        test_mask = reps < test_repetitions
    elif split == "speaker":
        if test_speaker not in set(speaker_of):
            raise ConfigError(f"test_speaker at {where}.test_speaker: expected one of {', '.join(sorted(set(speaker_of)))}, "
                              f"got {test_speaker!r}.")
        test_mask = speaker_of == test_speaker
    else:
        raise ConfigError(f"split at {where}.split: expected official or speaker, got {split!r}.")
    if target not in ("digit", "speaker"):
        raise ConfigError(f"target at {where}.target: expected digit or speaker, got {target!r}.")
    names = [str(d) for d in range(10)] if target == "digit" else sorted(set(speaker_of))
    labels = digits if target == "digit" else np.searchsorted(names, speaker_of)
    parts = []
    for mask, keep_n in ((~test_mask, limit), (test_mask, test_limit)):
        idx = np.flatnonzero(mask)
        keep = subsample(labels[idx], keep_n, options, names)
        idx = idx if keep is None else idx[keep]
        parts.append((_read_all([files[i] for i in idx], sample_rate, length, where), labels[idx],
                      {"speaker": speaker_of[idx], "digit": digits[idx].astype(str)}))
    (x, y, meta), (x_test, y_test, meta_test) = parts
    if len(x_test) == 0:
        raise DataError(f"dataset 'fsdd' at {where}: expected test recordings for split {split!r}, got none in "
                        f"{_fsdd_folder(root)}. Check the files.")
    # Each recording's speaker (and digit, when the target is the speaker) travels with it: plots colour by it.
    other = "digit" if target == "speaker" else "speaker"
    bundle = make_bundle(x, y, "audio", "fsdd", class_names=names, x_test=x_test, y_test=y_test,
                         groups={other: meta[other]}, groups_test={other: meta_test[other]}, **options.kwargs())
    bundle.info.reader = {"sample_rate": sample_rate, "duration": duration}
    return bundle


class AudioFiles(Dataset):
    """Recordings read one at a time as ``(1, length)`` waveforms (normalized once ``info`` has statistics)."""

    def __init__(self, files: list[Path], labels: np.ndarray | None, sample_rate: int, length: int, where: str) -> None:
        self.files, self.labels = files, labels
        self.sample_rate, self.length, self.where = sample_rate, length, where
        self.info: DataInfo | None = None
        self.targets = None if labels is None else labels.tolist()  # torchvision's convention

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor | tuple[torch.Tensor, int]:
        x = read_audio(self.files[i], self.sample_rate, self.length, self.where)
        if self.info is not None:
            x = self.info.normalize(x.unsqueeze(0)).squeeze(0)
        return x if self.labels is None else (x, int(self.labels[i]))


def _scan(root: Path, where: str) -> tuple[list[Path], np.ndarray | None, list[str]]:
    """Audio files under ``root``: ``root/<class>/*`` (labelled) or ``root/*`` (unlabelled), sorted."""
    if not root.is_dir():
        raise DataError(f"audio folder at {where}: expected a folder, got {root} (not found). Point root at it.")
    is_audio = lambda p: p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES  # noqa: E731
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and any(map(is_audio, d.iterdir())))
    if classes:
        pairs = [(f, k) for k, c in enumerate(classes) for f in sorted(filter(is_audio, (root / c).iterdir()))]
        return [f for f, _ in pairs], np.array([k for _, k in pairs], dtype=np.int64), classes
    files = sorted(filter(is_audio, root.iterdir()))
    if not files:
        raise DataError(f"audio folder at {where}: expected {', '.join(AUDIO_SUFFIXES)} files in {root} or in one "
                        "sub-folder per class, got none.")
    return files, None, []


def _readable(root: Path, key: str, where: str, on_error: OnError,
              follow_symlinks: bool) -> tuple[list[Path], np.ndarray | None, list[str], list[str]]:
    """:func:`_scan`'s files, labels and classes under ``root`` (``where.key``), the bad files left out
    (``on_error: skip``), and those files. Every header is read here, so a bad file is found before training."""
    files, labels, classes = _scan(root, f"{where}.{key}")
    check_inside(files, root, where, follow_symlinks)
    kept, skipped = screen(files, partial(audio_info, where=where), on_error, where)
    return [files[i] for i in kept], None if labels is None else labels[kept], classes, skipped


@register_dataset("audio_folder", aliases=("audiofolder",), available=always_available("any folder path"),
                  description="Recordings root/<class>/*.wav|flac|ogg (or root/* unlabelled), streamed",
                  folder_suffixes=AUDIO_SUFFIXES)
def audio_folder(
    root: str,
    sample_rate: int = 16000,
    duration: float = 1.0,
    test_root: str | None = None,
    stats_samples: int = 512,
    num_workers: int | None = None,  # DataLoader processes decoding clips; null: from the cores available, 0: none
    on_error: OnError = "fail",
    follow_symlinks: bool = False,
    *,
    options: LoadOptions = LoadOptions(),
) -> DataBundle:
    """Recordings under ``root`` (one sub-folder per class, or none: unlabelled) as ``(1, length)`` waveforms.

    Streamed from disk: each batch is decoded, mixed to mono, resampled and cropped/padded when drawn.
    Every file's header is checked first: a bad file fails naming it (``on_error: fail``) or is left out
    (``skip``); links leading out of a root are refused unless ``follow_symlinks``.
    """
    where = options.where
    length = check_rate(sample_rate, duration, where)
    folder = Path(root).expanduser()
    files, labels, classes, skipped = _readable(folder, "root", where, on_error, follow_symlinks)
    test_files, test_labels = [], None
    if test_root:
        test_files, test_labels, test_classes, skipped_test = _readable(
            Path(test_root).expanduser(), "test_root", where, on_error, follow_symlinks)
        skipped += skipped_test
        if test_classes != classes:
            raise DataError(f"test audio folder at {where}.test_root: expected the class folders of root "
                            f"({', '.join(classes) or 'none'}), got {', '.join(test_classes) or 'none'}.")
    val_fraction = resolve_val_fraction(options.val_fraction, len(files))
    check_fractions(val_fraction, 0.0 if test_root else options.test_fraction, where)
    fractions = [val_fraction] if test_root else [val_fraction, options.test_fraction]
    full = AudioFiles(files, labels, sample_rate, length, where)
    parts: list[Dataset] = [Subset(full, idx.tolist()) for idx in split_indices(len(files), labels, fractions, options.seed)]
    if test_root:
        parts.append(AudioFiles(test_files, test_labels, sample_rate, length, where))
    if len(parts[0]) == 0:  # type: ignore[arg-type]
        raise DataError(f"training split at {where}: expected at least one training recording, got 0 of {len(files)}. "
                        "Add recordings or lower val_fraction/test_fraction.")
    info = DataInfo("audio", (1, length), len(classes), classes, name=f"audio_folder:{folder.name}",
                    reader={"sample_rate": sample_rate, "duration": duration}, skipped=skipped or None)
    datasets = [full] + ([parts[-1]] if test_root else [])
    if options.normalize:
        picks = np.random.default_rng(options.seed).permutation(len(parts[0]))[:stats_samples]  # type: ignore[arg-type]
        sample = torch.stack([parts[0][int(i)] if labels is None else parts[0][int(i)][0] for i in picks])
        info.mean, info.std = AUDIO.statistics(sample)
        for d in datasets:
            d.info = info  # type: ignore[attr-defined]
    train, val, test = [StreamSplit(p, num_workers=num_workers) if len(p) else None for p in parts]  # type: ignore[arg-type]
    return DataBundle(info, train, val, test)  # type: ignore[arg-type]

