"""`deepfeat config check` checks what `fit` would before training: data against its files, the split, the
classes, and the optional extras the learner's evaluations need; each problem is one line and exit code 2."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

import deepfeat
from deepfeat import extras
from deepfeat.cli import main

QUICK = {"training": {"epochs": 1, "batch_size": 64, "progress": "none"},
         "evaluation": {"embedding_plots": [], "protocol": ["knn"], "knn_k": [5]},
         "logging": {"plots": False, "report": False}}


def _check(tmp_path: Path, cfg: dict, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    code = main(["config", "check", "-c", str(path)])
    said = capsys.readouterr()
    return code, (said.err or said.out).strip()


def _core_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if only the core was installed: no extra is found, and torchmetrics cannot be imported."""
    monkeypatch.setattr(extras, "installed", lambda extra: False)
    for name in [m for m in sys.modules if m == "torchmetrics" or m.startswith("torchmetrics.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "torchmetrics", None)


def test_the_readme_audio_line_with_a_missing_root_is_refused(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = {"data": {"name": "audio_folder", "root": "my_sounds", "sample_rate": 16000, "duration": 2.0},
           "encoder": {"name": "audio_cnn"}}
    code, err = _check(tmp_path, cfg, capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "my_sounds" in err and "not found" in err


@pytest.mark.parametrize(("data", "said"), [
    ({"test_fraction": 1.5}, "data.test_fraction"),
    ({"classes": [0, 42]}, "data.classes"),
    ({"normal_classes": ["cat"]}, "'cat'"),
])
def test_bad_split_and_class_settings_are_one_line(tmp_path, capsys, data, said) -> None:
    cfg = {**QUICK, "data": {"name": "digits", **data}, "encoder": {"name": "mlp", "hidden": [8]}}
    code, err = _check(tmp_path, cfg, capsys)
    assert code == 2 and len(err.splitlines()) == 1 and said in err


def test_a_protocol_setting_the_data_cannot_meet_is_refused_before_training(tmp_path, capsys) -> None:
    cfg = {**QUICK, "data": {"name": "iris"}, "encoder": {"name": "mlp", "hidden": [8]},
           "evaluation": {"protocol": ["knn"], "knn_k": [200]}}  # iris trains on ~120
    code, err = _check(tmp_path, cfg, capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "knn.k" in err


def test_an_evaluation_needing_a_missing_extra_is_refused_before_training(tmp_path, capsys, monkeypatch) -> None:
    _core_install(monkeypatch)
    cfg = {**QUICK, "data": {"name": "digits"}, "encoder": {"name": "mlp", "hidden": [8]},
           "learner": {"name": "autoencoder", "code_dim": 4}}
    code, err = _check(tmp_path, cfg, capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "deepfeat[images]" in err and "evaluation reconstruction" in err
    with pytest.raises(deepfeat.ConfigError, match="images"):
        deepfeat.fit(cfg, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before the run folder was made


def test_a_tabular_autoencoder_on_a_core_install_checks_and_trains_without_image_metrics(tmp_path, capsys,
                                                                                          monkeypatch) -> None:
    _core_install(monkeypatch)
    cfg = {**QUICK, "data": {"name": "iris"}, "encoder": {"name": "mlp", "hidden": [8]},
           "learner": {"name": "autoencoder", "code_dim": 2}}
    code, said = _check(tmp_path, cfg, capsys)
    assert code == 0 and said.endswith("nothing trained)")
    run = deepfeat.fit(cfg, out=tmp_path / "run")
    recon = run.results["evaluations"]["reconstruction"]
    assert recon["mse"] >= 0 and "psnr" not in recon and "ssim" not in recon

