"""End to end through subprocesses on a tiny config: fit, evaluate, embed, report, export, resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

TINY = """
name: tiny
data: {name: digits}
encoder: {name: mlp, hidden: [32]}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 2, batch_size: 64}
evaluation: {embedding_plots: [pca]}
"""


def deepfeat(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deepfeat.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "tiny.yaml").write_text(TINY)
    r = deepfeat("fit", "-c", "tiny.yaml", "--out", "run", cwd=tmp)
    assert r.returncode == 0, r.stderr
    return tmp, tmp / "run"


def test_fit_writes_the_run_folder_and_prints_where(fitted) -> None:
    tmp, run = fitted
    for name in ("config.yaml", "metrics.csv", "results.json", "report.html", "checkpoints/last.pt",
                 "checkpoints/best.pt", "model/model.safetensors", "model/model.json", "plots/training_curves.png"):
        assert (run / name).exists(), name
    results = json.loads((run / "results.json").read_text())
    assert 0.8 < results["test"]["test/acc"] <= 1.0
    assert yaml.safe_load((run / "config.yaml").read_text())["training"]["epochs"] == 2


def test_output_without_terminal_has_one_line_per_epoch(tmp_path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    r = deepfeat("fit", "-c", "tiny.yaml", "--out", "r", "--set", "logging.report=false", "--set", "logging.plots=false", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr
    assert [l.split()[1] for l in r.stderr.splitlines() if l.startswith("epoch")] == ["1/2", "2/2"]
    assert "report:" not in r.stdout  # logging.report is false: no report to point to


def test_evaluate_embed_report_export(fitted) -> None:
    tmp, run = fitted
    r = deepfeat("evaluate", str(run), cwd=tmp)
    assert r.returncode == 0 and "linear_probe" in r.stdout, r.stderr
    for suffix in (".npy", ".csv"):
        r = deepfeat("embed", str(run), "--data", "digits", "--out", f"z{suffix}", cwd=tmp)
        assert r.returncode == 0, r.stderr
    z = np.load(tmp / "z.npy")
    assert z.shape == (1797, 32) and np.isfinite(z).all()
    np.testing.assert_allclose(np.loadtxt(tmp / "z.csv", delimiter=",", skiprows=1), z, rtol=1e-4, atol=1e-5)
    r = deepfeat("report", str(run), cwd=tmp)
    assert r.returncode == 0 and "report.html" in r.stdout


@pytest.mark.slow
def test_export_onnx(fitted) -> None:
    tmp, run = fitted
    r = deepfeat("export", str(run), "--format", "onnx", cwd=tmp)
    assert r.returncode == 0, r.stderr
    assert (run / "model" / "model.onnx").stat().st_size > 1000


def test_resume_a_finished_run_is_refused_and_keeps_its_epochs(fitted) -> None:
    tmp, run = fitted
    r = deepfeat("resume", str(run), cwd=tmp)
    assert r.returncode == 2 and "already finished (2 epochs)" in r.stderr, r.stderr
    assert len((run / "metrics.csv").read_text().splitlines()) == 3


def test_typo_exits_2_with_one_line_and_the_suggestion(tmp_path) -> None:
    (tmp_path / "bad.yaml").write_text(TINY.replace("epochs: 2", "epochz: 2"))
    r = deepfeat("fit", "-c", "bad.yaml", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "unknown key 'training.epochz'" in r.stderr and "Did you mean 'epochs'" in r.stderr
    r = deepfeat("--debug", "config", "check", "bad.yaml", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_print_config_loads_back_as_the_same_config(tmp_path) -> None:
    from deepfeat.config import Config, load_config

    (tmp_path / "tiny.yaml").write_text(TINY)
    r = deepfeat("fit", "-c", "tiny.yaml", "--set", "optimizer.lr=0.01", "--print-config", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    printed = Config.from_dict(yaml.safe_load(r.stdout))
    assert printed == load_config(tmp_path / "tiny.yaml", ["optimizer.lr=0.01"])
    assert not (tmp_path / "runs").exists()


def test_list_datasets_and_help_examples(tmp_path, capsys) -> None:
    from deepfeat.cli import EXAMPLES, main

    r = deepfeat("list", "encoders", cwd=tmp_path)
    assert r.returncode == 0 and "mlp" in r.stdout and "cnn" in r.stdout and "lstm" in r.stdout
    assert main(["list", "encoderz"]) == 2
    assert "Did you mean 'encoders'" in capsys.readouterr().err
    assert main(["datasets"]) == 0 and "digits" in capsys.readouterr().out
    for cmd in EXAMPLES:  # every subcommand's --help ends with a working example
        with pytest.raises(SystemExit) as exit_:
            main([cmd, "--help"])
        assert exit_.value.code == 0 and "example:\n  deepfeat " in capsys.readouterr().out, cmd
