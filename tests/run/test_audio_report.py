"""A run on sound gets sound in its report: recordings, spectrograms of reconstructions, playable clips, SNR in dB."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

sf = pytest.importorskip("soundfile", reason="audio needs the 'audio' extra: pip install 'deepfeat[audio]'")
pytest.importorskip("torchaudio", reason="audio needs the 'audio' extra: pip install 'deepfeat[audio]'")

from deepfeat.data.info import DataInfo  # noqa: E402
from deepfeat.run.workflow import fit  # noqa: E402

RATE = 8000
SNR = 5.0


def _folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(int(0.2 * RATE)) / RATE
    for name, base in (("low", 300.0), ("high", 1500.0)):
        (root / name).mkdir(parents=True)
        for i in range(5):
            wave = rng.uniform(0.2, 0.6) * np.sin(2 * np.pi * base * rng.uniform(0.9, 1.1) * t)
            sf.write(str(root / name / f"{i}.wav"), wave.astype(np.float32), RATE)
    return root


def test_a_denoising_run_on_recordings_reports_snr_and_plays_its_clips(tmp_path: Path) -> None:
    cfg = {
        "name": "tones-dae", "seed": 0,
        "data": {"name": "audio_folder", "root": str(_folder(tmp_path / "tones")), "sample_rate": RATE,
                 "duration": 0.25, "val_fraction": 0.2, "test_fraction": 0.2},
        "encoder": {"name": "audio", "sample_rate": RATE, "frontend": {"name": "log_mel", "n_mels": 8},
                    "backbone": {"name": "tcn", "channels": [8], "kernel_size": 3}},
        "learner": {"name": "denoising", "code_dim": 4, "noise": {"name": "snr", "snr_db": SNR}},
        "training": {"epochs": 1, "batch_size": 4, "progress": "none"},
        "evaluation": {"protocol": [], "embedding_plots": []},
    }
    run = fit(cfg, out=tmp_path / "run")
    result = run.results.evaluations["denoising"]
    assert abs(result["snr_noisy"] - SNR) < 1.0  # 2,000-sample clips: the noise power estimate is within ~10%
    assert result["snr_gain"] == pytest.approx(result["snr_denoised"] - result["snr_noisy"])
    plots = tmp_path / "run" / "plots"
    index = {e["name"]: e for e in json.loads((plots / "index.json").read_text())}
    assert {"audio_examples", "audio_examples_clips", "reconstructions", "reconstructions_clips"} <= index.keys()
    assert index["reconstructions_clips"]["sounds"]["columns"] == ["input", "corrupted", "denoised"]
    assert index["reconstructions"]["title"].endswith("(spectrograms)")
    examples = index["audio_examples_clips"]["sounds"]["rows"]
    assert len(examples) == 2 and {r["label"] for r in examples} == {"class low", "class high"}  # one per class
    clip, rate = sf.read(str(plots / "reconstructions_clips-0-1.wav"))
    assert rate == RATE and clip.shape == (int(0.25 * RATE),)
    html = (tmp_path / "run" / "report.html").read_text()
    assert "<h2>Sound</h2>" in html and "SNR gain (dB)" in html
    assert len(re.findall(r'<audio controls[^>]*src="data:audio/wav;base64,', html)) == 2 + 2 * 3


def test_only_waveforms_with_a_rate_count_as_sound() -> None:
    assert DataInfo("sequence", (1, 800), reader={"sample_rate": 8000, "duration": 0.1}).sample_rate == 8000
    assert DataInfo("sequence", (1, 800)).sample_rate is None  # a series in memory: no rate, no sound figures
    assert DataInfo("image", (1, 8, 8), reader={"sample_rate": 8000}).sample_rate is None


def test_the_every_run_sound_figure_is_skipped_for_data_without_a_rate(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from deepfeat.run.produce import _figures

    learner = SimpleNamespace(figures=("confusion_matrix",))
    for info in (DataInfo("image", (1, 8, 8)), DataInfo("sequence", (1, 100))):  # skipped before it is announced
        ctx = SimpleNamespace(learner=learner, data=SimpleNamespace(info=info), run_dir=tmp_path)
        figures = _figures(ctx)
        assert "audio_examples" not in figures and figures[-1] == "confusion_matrix"
    sound = DataInfo("sequence", (1, 800), reader={"sample_rate": 8000, "duration": 0.1})
    ctx = SimpleNamespace(learner=learner, data=SimpleNamespace(info=sound), run_dir=tmp_path)
    figures = _figures(ctx)
    assert "audio_examples" in figures and figures[-1] == "confusion_matrix"
