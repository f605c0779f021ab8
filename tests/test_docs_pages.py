"""The documentation pages' longer examples run as written, read from the pages themselves, and what they make is
checked: your own model and data, a registered module from YAML, windows of one long series, DeepAnomalyDetector."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _blocks(page: str, heading: str, lang: str) -> list[str]:
    """The ``lang`` blocks of ``docs/<page>`` under ``heading`` (up to the next heading of its level or above; a
    ``#`` line inside a block is code, not a heading)."""
    level, found, fence, lines, blocks = len(heading.split()[0]), False, None, [], []
    for line in (DOCS / page).read_text().splitlines():
        if line.startswith("```"):
            if fence is not None and found and fence == lang:
                blocks.append("\n".join(lines) + "\n")
            fence, lines = (line[3:], []) if fence is None else (None, [])
        elif fence is not None:
            lines.append(line)
        elif re.match(rf"#{{1,{level}}} ", line):
            if found:
                break
            found = line == heading
    return blocks


def test_your_own_model_and_data_example_runs_as_written(tmp_path: Path, monkeypatch, isolated_registries) -> None:
    monkeypatch.chdir(tmp_path)  # its runs/ folder goes here
    scope: dict = {}
    block = _blocks("concepts/configs.md", "## Your own model and data", "python")[0]
    exec(compile(block, "configs.md", "exec"), scope)  # noqa: S102
    run, again = scope["run"], scope["again"]
    assert scope["features"].shape == (10, 64) and (scope["same"] == scope["features"]).all()
    assert np.allclose(scope["later"].embed(scope["X"][:10]), scope["features"], rtol=1e-5, atol=1e-6)
    assert again.config.encoder == {"name": "small_cnn", "width": 8}
    assert (again.embed(scope["X"][:3]) == run.embed(scope["X"][:3])).all()
    assert run.results["test"]["test/acc"] > 0.8


def test_registered_module_from_yaml_via_the_cli_runs_as_written(tmp_path: Path) -> None:
    """The page's module file and config, then its commands, in a fresh process each (as a user types them)."""
    import shlex
    import subprocess
    import sys

    import numpy as np

    (module,), (config,), (commands,) = (_blocks("concepts/configs.md", "### From YAML and the command line", lang) for lang in ("python", "yaml", "bash"))
    (tmp_path / "my_encoders.py").write_text(module)
    (tmp_path / "small_cnn.yaml").write_text(config)
    outputs = []
    for line in commands.strip().splitlines():
        argv = shlex.split(line)
        assert argv[0] == "deepfeat"
        done = subprocess.run([sys.executable, "-m", "deepfeat", *argv[1:]], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    features = np.load(tmp_path / "features.npy")
    assert features.shape == (1797, 32)  # width 8 x 2 x 2, every digits sample
    assert "small_cnn" in outputs[-1] and "pooled to 2x2" in outputs[-1]
    # Without the import, the run's encoder cannot be rebuilt: one line that says what to do.
    done = subprocess.run([sys.executable, "-m", "deepfeat", "embed", "runs/small-cnn", "--data", "digits", "--out", "g.npy"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "encoder 'small_cnn'" in done.stderr and "--import MODULE" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow  # trains the example config as written (~30-60 s on two loaded cores)
def test_windowed_anomaly_example_runs_as_written(tmp_path: Path) -> None:
    """The series guide's windows commands, each in a fresh process in a folder holding the repository's examples/, then
    the point scores checked against the labels the score step wrote."""
    import shlex
    import subprocess
    import sys

    import numpy as np
    from sklearn.metrics import roc_auc_score

    pytest.importorskip("aeon")
    commands = _blocks("guides/series.md", "## Windows: anomaly detection in one long series", "bash")[0]
    (tmp_path / "examples").symlink_to(DOCS.parent / "examples")
    printed = []
    for line in commands.strip().splitlines():
        argv = shlex.split(line)
        assert argv[0] in ("deepfeat", "python")
        head = [sys.executable, "-m", "deepfeat"] if argv[0] == "deepfeat" else [sys.executable]
        done = subprocess.run([*head, *argv[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        printed.append(done.stdout)
    table = np.loadtxt(tmp_path / "kdd135_points.csv", delimiter=",", skiprows=1)
    assert table.shape == (7501, 3) and table[:, 2].sum() > 0
    auc = roc_auc_score(table[:, 2], table[:, 0])
    assert f"point ROC-AUC {auc:.3f}" in printed[-1] and auc > 0.95


def test_anomaly_detector_example_runs_as_written(capsys) -> None:
    """The tables guide's DeepAnomalyDetector example: a table in mixed units, normal rows only in fit, far rows flagged."""
    (block,) = _blocks("guides/tables.md", "## Anomaly detection on a table: `DeepAnomalyDetector`", "python")
    scope: dict = {}
    exec(compile(block, "tables.md", "exec"), scope)  # noqa: S102
    auc, flagged = (float(line.split()[-1]) for line in capsys.readouterr().out.splitlines())
    assert auc > 0.95 and flagged >= 0.9  # 1.0 and 1.0 measured
    assert scope["detector"][-1].offset_ < 0  # normality = -reconstruction error: the threshold is negative


def test_every_registered_dataset_source_is_in_the_data_page_table() -> None:
    """The Data page's table names every source `deepfeat list datasets` lists, so it cannot drift."""
    from deepfeat.data.datasets import DATASETS

    section = (DOCS / "concepts" / "data.md").read_text()
    first_cells = re.findall(r"^\| ([^|]+) \|", section, re.M)
    named = {name for cell in first_cells for name in re.findall(r"`([a-z0-9_]+)`", cell.split("(alias")[0])}
    assert set(DATASETS.names()) - named == set()
