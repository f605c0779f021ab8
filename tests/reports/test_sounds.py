"""Sound in the report: WAV clips written with soundfile and embedded as <audio> data URIs; spectrogram figures."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

sf = pytest.importorskip("soundfile", reason="sound clips need the 'audio' extra: pip install 'deepfeat[audio]'")

from deepfeat.errors import ConfigError  # noqa: E402
from deepfeat.reports.audio_plots import power_spectrogram, spectrogram_rows, waveform_grid  # noqa: E402
from deepfeat.reports.html import write_report  # noqa: E402
from deepfeat.reports.sounds import save_sounds  # noqa: E402

RATE = 8000


def tone(freq: float, seconds: float = 0.25, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(int(RATE * seconds)) / RATE)


def test_clips_round_trip_through_the_wav_files_with_one_gain_per_row(tmp_path: Path) -> None:
    clips = np.stack([np.stack([tone(300), 3 * tone(500)]), np.stack([tone(700, amp=0.2), tone(900, amp=0.1)])])
    paths = save_sounds(tmp_path, "clips", ["a", "b"], ["original", "noisy"], clips, RATE, title="t", caption="c",
                        section="Sound")
    assert [p.name for p in paths] == ["clips-0-0.wav", "clips-0-1.wav", "clips-1-0.wav", "clips-1-1.wav"]
    row0 = [sf.read(p)[0] for p in paths[:2]]
    assert sf.info(str(paths[0])).samplerate == RATE and sf.info(str(paths[0])).subtype == "PCM_16"
    # Row 0 peaks at 1.5: both of its clips are scaled down by the same factor, so their ratio is kept.
    assert np.abs(row0[1]).max() == pytest.approx(0.99, abs=1e-3)
    np.testing.assert_allclose(row0[0], clips[0, 0] * 0.99 / 1.5, atol=1e-4)
    np.testing.assert_allclose(sf.read(paths[2])[0], clips[1, 0], atol=1e-4)  # quiet rows keep their level
    entry = json.loads((tmp_path / "plots" / "index.json").read_text())[0]
    assert entry["sounds"]["columns"] == ["original", "noisy"] and entry["sounds"]["rows"][1]["label"] == "b"


def test_the_report_embeds_each_clip_as_a_playable_wav_data_uri(tmp_path: Path) -> None:
    clips = np.stack([tone(440)])[:, None]
    save_sounds(tmp_path, "clips", ["tone <440>"], ["original"], clips, RATE, title="Listen", caption="c",
                section="Sound")
    html = write_report(tmp_path).read_text()
    players = re.findall(r'<audio controls[^>]*src="data:audio/wav;base64,([^"]+)"', html)
    assert len(players) == 1 and "tone &lt;440&gt;" in html
    wave, rate = sf.read(io.BytesIO(base64.b64decode(players[0])))
    assert rate == RATE
    np.testing.assert_allclose(wave, clips[0, 0], atol=1e-4)


def test_an_index_entry_cannot_point_outside_the_plots_folder(tmp_path: Path) -> None:
    secret = tmp_path / "secret.wav"
    sf.write(str(secret), tone(440), RATE)
    save_sounds(tmp_path, "clips", ["a"], ["original"], np.stack([tone(440)])[:, None], RATE, title="t", caption="c",
                section="Sound")
    index = tmp_path / "plots" / "index.json"
    entries = json.loads(index.read_text())
    entries[0]["sounds"]["rows"][0]["files"] = ["../secret.wav"]
    index.write_text(json.dumps(entries))
    html = write_report(tmp_path).read_text()
    assert "data:audio/wav" not in html and "missing secret.wav" in html


def test_bad_clip_shapes_and_names_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"expected shape \(1, 2, T\)"):
        save_sounds(tmp_path, "clips", ["a"], ["x", "y"], np.zeros((1, 1, 10)), RATE, title="t", caption="c",
                    section="s")
    with pytest.raises(ConfigError, match="figure name"):
        save_sounds(tmp_path, "../up", ["a"], ["x"], np.zeros((1, 1, 10)), RATE, title="t", caption="c", section="s")


def test_the_spectrogram_puts_a_tone_at_its_frequency() -> None:
    freqs, times, power = power_spectrogram(tone(1000, seconds=0.5), RATE)
    assert power.shape == (len(freqs), len(times)) and len(times) >= 40  # 10 ms hop over 0.5 s
    assert abs(freqs[power.mean(1).argmax()] - 1000) <= RATE / 200  # within one bin of a 25 ms window


def test_figures_have_a_waveform_and_a_spectrogram_per_recording_and_a_row_per_version() -> None:
    silent_tail = np.concatenate([tone(1200, seconds=0.01, amp=0.1), np.zeros(1920)])  # mostly zero padding
    waves = np.stack([tone(300), tone(600), silent_tail])
    fig = waveform_grid(waves, RATE, ["a", "b", "c"])
    assert len(fig.axes) == 3 * 2 + 1  # waveform + spectrogram per recording, one colorbar
    rows = {"input": waves[:2], "corrupted": waves[:2] + 0.1, "denoised": waves[:2] * 0.5}
    fig = spectrogram_rows(rows, RATE, ["a", "b"])
    assert len(fig.axes) == 3 * 2 + 1
    assert fig.axes[0].get_ylabel().startswith("input") and fig.axes[2].get_ylabel().startswith("corrupted")
