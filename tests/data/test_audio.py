"""Audio data: reading (mono, resampling, crop/pad), bad files, fsdd splits, audio_folder streaming."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

sf = pytest.importorskip("soundfile", reason="audio needs the 'audio' extra: pip install 'deepfeat[audio]'")
pytest.importorskip("torchaudio", reason="audio needs the 'audio' extra: pip install 'deepfeat[audio]'")

from deepfeat.data import load_dataset  # noqa: E402
from deepfeat.data.audio_io import read_audio  # noqa: E402
from deepfeat.data.datasets import data_root, folder_spec  # noqa: E402
from deepfeat.errors import ConfigError, DataError  # noqa: E402

FSDD = data_root() / "fsdd" / "recordings"
needs_fsdd = pytest.mark.skipif(not FSDD.is_dir(), reason=f"FSDD not found in {FSDD} (set DEEPFEAT_DATA)")


def tone(freq: float, rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    wave = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def dominant_hz(wave: torch.Tensor, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(wave.numpy().ravel()))
    return float(np.argmax(spectrum) * rate / wave.shape[-1])


def test_stereo_44k_becomes_mono_at_the_configured_rate_with_its_pitch(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    sf.write(path, tone(440.0, 44100, 1.0, channels=2), 44100)
    wave = read_audio(path, 8000, 8000)
    assert wave.shape == (1, 8000) and wave.dtype == torch.float32
    assert abs(dominant_hz(wave, 8000) - 440.0) <= 1.0
    assert abs(float(wave.abs().max()) - 0.5) < 0.02  # the resampler keeps the amplitude


def test_long_files_are_cropped_reading_only_the_start_and_short_ones_padded(tmp_path: Path) -> None:
    long_path, short_path = tmp_path / "long.flac", tmp_path / "short.wav"
    sf.write(long_path, tone(300.0, 16000, 300.0), 16000)  # a 5-minute recording
    sf.write(short_path, tone(300.0, 8000, 0.002), 8000)  # 16 samples: shorter than one 25 ms frame
    start = time.perf_counter()
    long_wave = read_audio(long_path, 16000, 16000)
    assert time.perf_counter() - start < 5.0  # a full decode of 5 minutes would not be needed
    assert torch.allclose(long_wave[0], torch.from_numpy(tone(300.0, 16000, 1.0)), atol=1e-4)
    short = read_audio(short_path, 8000, 800)
    assert short.shape == (1, 800) and short[0, 16:].abs().max() == 0 and short[0, :16].abs().max() > 0


@pytest.mark.parametrize("content, expected", [(b"", "empty file"), (b"not audio at all " * 20, "cannot decode")])
def test_an_empty_or_non_audio_file_is_one_line_naming_it(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(DataError, match=expected) as info:
        read_audio(path, 8000, 8000, where="data")
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_a_recording_without_samples_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros(0, np.float32), 8000)
    with pytest.raises(DataError, match="at least one sample"):
        read_audio(path, 8000, 8000)


def make_folder(root: Path, per_class: int = 6) -> Path:
    """Two classes of tones (low, high) at mixed rates and channel counts."""
    for k, (name, freq) in enumerate((("high", 1500.0), ("low", 200.0))):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            rate, channels = (16000, 2) if i % 2 else (8000, 1)
            sf.write(root / name / f"{i}.{'wav' if i % 3 else 'flac'}", tone(freq + 10 * i, rate, 0.3 + 0.1 * i, channels), rate)
    return root


def test_audio_folder_streams_labelled_waveforms_with_train_statistics(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "tones")
    bundle = load_dataset({"name": "audio_folder", "root": str(root), "sample_rate": 8000, "duration": 0.5},
                          val_fraction=0.25, test_fraction=0.25)
    assert bundle.info.class_names == ["high", "low"] and bundle.info.input_shape == (1, 4000)
    assert bundle.info.reader == {"sample_rate": 8000, "duration": 0.5}
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (6, 3, 3)
    x, y = next(bundle.train.batches(6))
    assert x.shape == (6, 1, 4000) and sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]
    assert abs(float(x.std()) - 1.0) < 0.3  # standardized with the training statistics


def test_a_bad_file_in_an_audio_folder_fails_before_training_naming_it(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "tones")
    (root / "low" / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    with pytest.raises(DataError, match="broken.wav"):
        load_dataset({"name": "audio_folder", "root": str(root)})


def test_a_folder_path_finds_the_folder_dataset_that_reads_its_files(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "tones")
    assert folder_spec(root) == {"name": "audio_folder", "root": str(root)}
    flat = tmp_path / "flat"
    flat.mkdir()
    sf.write(flat / "a.ogg", tone(440.0, 8000, 0.2), 8000)
    assert folder_spec(flat)["name"] == "audio_folder"
    bundle = load_dataset({"name": "audio_folder", "root": str(flat)}, val_fraction=0.0, test_fraction=0.0)
    assert bundle.info.num_classes == 0 and next(bundle.train.batches(1))[1] is None
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="audio_folder"):
        folder_spec(tmp_path / "empty")


@needs_fsdd
def test_fsdd_official_split_tests_on_repetitions_0_to_4() -> None:
    bundle = load_dataset({"name": "fsdd", "limit": 20, "test_limit": 10}, val_fraction=0.0)
    assert bundle.info.input_shape == (1, 8000) and bundle.info.class_names == [str(d) for d in range(10)]
    assert (len(bundle.train), len(bundle.test)) == (20, 10)
    assert sorted(bundle.test.y.tolist()) == list(range(10))  # stratified: one recording per digit


@needs_fsdd
def test_fsdd_speaker_split_holds_out_every_recording_of_the_speaker() -> None:
    spec = {"name": "fsdd", "split": "speaker", "test_speaker": "george", "target": "speaker", "limit": 10,
            "test_limit": 5}
    bundle = load_dataset(spec, val_fraction=0.0)
    george = bundle.info.class_names.index("george")
    assert set(bundle.test.y.tolist()) == {george} and george not in bundle.train.y.tolist()
    with pytest.raises(ConfigError, match="test_speaker.*jackson"):
        load_dataset({**spec, "test_speaker": "nobody"})


@needs_fsdd
def test_fsdd_speakers_keeps_one_voice_and_test_repetitions_moves_the_split() -> None:
    spec = {"name": "fsdd", "speakers": ["theo"], "test_repetitions": 25, "target": "speaker"}
    bundle = load_dataset(spec, val_fraction=0.0)
    assert (len(bundle.train), len(bundle.test)) == (250, 250) and bundle.info.class_names == ["theo"]
    with pytest.raises(ConfigError, match="speakers.*george, jackson"):
        load_dataset({**spec, "speakers": ["nobody"]})
    with pytest.raises(ConfigError, match="test_repetitions.*1 to 49"):
        load_dataset({**spec, "test_repetitions": 50})


def test_a_wav_is_truncated_only_when_its_data_chunk_ends_early(tmp_path: Path) -> None:
    from deepfeat.data.audio_io import wav_shortfall

    sf.write(tmp_path / "plain.wav", tone(440.0, 8000, 0.1), 8000)
    plain = (tmp_path / "plain.wav").read_bytes()
    # An odd-sized chunk (padded to even) before the data chunk: the walk must step over it.
    junk = b"junk" + (3).to_bytes(4, "little") + b"abc\x00"
    data_at = plain.index(b"data")
    body = plain[12:data_at] + junk + plain[data_at:]
    (tmp_path / "junk.wav").write_bytes(b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WAVE" + body)
    assert wav_shortfall(tmp_path / "plain.wav") is None and wav_shortfall(tmp_path / "junk.wav") is None
    assert read_audio(tmp_path / "junk.wav", 8000, 800).shape == (1, 800)
    (tmp_path / "cut.wav").write_bytes((tmp_path / "junk.wav").read_bytes()[:-100])
    assert wav_shortfall(tmp_path / "cut.wav") == (1600, 1500)
    with pytest.raises(DataError, match="1600 bytes of samples its WAV header declares, got 1500"):
        read_audio(tmp_path / "cut.wav", 8000, 800)
