"""Speech end to end: fit on a handful of FSDD recordings, then embed unseen recordings at another sample rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

sf = pytest.importorskip("soundfile", reason="audio needs the 'audio' extra: pip install 'deepfeat[audio]'")
pytest.importorskip("torchaudio", reason="audio needs the 'audio' extra: pip install 'deepfeat[audio]'")

from deepfeat.cli import main  # noqa: E402
from deepfeat.data.audio_io import read_audio, resample  # noqa: E402
from deepfeat.data.datasets import data_root  # noqa: E402
from deepfeat.run.workflow import fit  # noqa: E402

FSDD = data_root() / "fsdd" / "recordings"
pytestmark = pytest.mark.skipif(not FSDD.is_dir(), reason=f"FSDD not found in {FSDD} (set DEEPFEAT_DATA)")

TINY = {
    "name": "fsdd-tiny", "seed": 0,
    "data": {"name": "fsdd", "duration": 0.5, "limit": 40, "test_limit": 10, "val_fraction": 0.2},
    "encoder": {"name": "audio", "sample_rate": 8000, "frontend": {"name": "log_mel", "n_mels": 16}, "image": True,
                "backbone": {"name": "cnn", "channels": [8]}, "spec_augment": {"time_masks": 1, "freq_masks": 1}},
    "learner": {"name": "classifier"},
    "training": {"epochs": 1, "batch_size": 16},
    "evaluation": {"protocol": ["linear"], "embedding_plots": []},
    "logging": {"report": False, "plots": False},
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("speech") / "run"
    fit(TINY, out=out)
    return out


def test_embed_reads_a_folder_of_16k_recordings_as_the_8k_training_data(run_dir: Path, tmp_path: Path, capsys) -> None:
    originals = sorted(FSDD.glob("*_theo_4*.wav"))[:3] + sorted(FSDD.glob("*_yweweler_3*.wav"))[:2]
    folder = tmp_path / "new_recordings"
    folder.mkdir()
    for f in originals:
        wave, rate = sf.read(f, dtype="float32")
        sf.write(folder / f.name, resample(torch.from_numpy(wave), rate, 16000).numpy(), 16000)
    assert main(["embed", str(run_dir), "--data", str(folder), "--out", str(tmp_path / "f.npy")]) == 0
    z = np.load(tmp_path / "f.npy")
    import deepfeat

    run = deepfeat.load(run_dir)
    expected = run.embed(torch.stack([read_audio(f, 8000, 4000) for f in originals]))
    assert z.shape == expected.shape == (5, run.learner.feature_dim)
    np.testing.assert_allclose(z, expected, rtol=0.05, atol=0.05 * float(np.abs(expected).max()))


def test_embed_of_a_folder_with_a_bad_recording_is_one_line(run_dir: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "empty.wav").write_bytes(b"")
    assert main(["embed", str(run_dir), "--data", str(folder), "--out", str(tmp_path / "f.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert "empty.wav" in err and "empty file" in err and len(err.splitlines()) == 1


def test_the_exported_model_takes_raw_waveforms(run_dir: Path) -> None:
    from deepfeat.run.model_io import load_model

    learner, info = load_model(run_dir / "model")
    assert info.input_shape == (1, 4000) and info.reader == {"sample_rate": 8000, "duration": 0.5}
    assert learner.encoder.frontend.sample_rate == 8000
    assert learner.embed(info.normalize(torch.randn(2, 1, 4000))).shape == (2, learner.feature_dim)


@pytest.mark.slow
def test_onnx_export_takes_waveforms_and_matches_the_model(run_dir: Path, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="ONNX export needs the 'export' extra")
    from onnx.reference import ReferenceEvaluator

    import deepfeat

    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    x = (0.05 * np.random.default_rng(0).standard_normal((2, 1, 4000))).astype(np.float32)
    z = ReferenceEvaluator(onnx.load(tmp_path / "m.onnx")).run(None, {"input": x})[0]
    np.testing.assert_allclose(z, deepfeat.load(run_dir).embed(x), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_the_fsdd_example_config_on_the_official_split(tmp_path: Path) -> None:
    """The example config end to end (about 30 min on 2 loaded cores), with a margin below what was measured."""
    config = Path(__file__).resolve().parents[2] / "examples" / "configs" / "fsdd_cnn.yaml"
    run = fit(str(config), out=tmp_path / "run", overrides=["logging.report=false", "evaluation.protocol=[]"])
    assert run.results["test"]["test/acc"] >= 0.99
