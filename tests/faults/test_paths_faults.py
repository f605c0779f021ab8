"""Names that become folders (a run's ``name:``, a study's ``--study``) stay inside the runs folder: a name that is a
path (``..``, ``/``) is refused with one line before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import deepfeat
from deepfeat.cli import main
from deepfeat.errors import ConfigError

BAD_NAMES = ["../x", "a/b", ".."]


@pytest.mark.parametrize("name", [*BAD_NAMES, "/abs", "my run"])
def test_a_run_name_that_is_a_path_is_refused(name: str, tmp_path: Path, tiny) -> None:
    runs = tmp_path / "area" / "runs"
    with pytest.raises(ConfigError, match="expected a plain name of letters, digits"):
        deepfeat.fit({**tiny, "name": name}, runs_dir=runs)
    assert not (tmp_path / "area").exists()  # nothing written, inside or beside the runs folder


def test_a_plain_run_name_names_its_folder(tmp_path: Path, tiny) -> None:
    tiny["training"]["epochs"] = 1
    run = deepfeat.fit({**tiny, "name": "my_run-1.2"}, runs_dir=tmp_path / "runs")
    assert run.dir.parent == tmp_path / "runs" and run.dir.name.startswith("my_run-1.2-")


def _tune_args(tmp_path: Path, tiny: dict, *extra: str) -> list[str]:
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tiny))
    (tmp_path / "space.yaml").write_text("optimizer.lr: {low: 0.001, high: 0.01}\n")
    return ["tune", str(tmp_path / "tiny.yaml"), "--space", str(tmp_path / "space.yaml"), "--trials", "1", *extra]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_tune_refuses_a_study_name_that_is_a_path(name: str, tmp_path: Path, tiny, monkeypatch, capsys) -> None:
    pytest.importorskip("optuna")
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)  # the default runs folder is ./runs
    code = main(_tune_args(tmp_path, tiny, "--study", name))
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--study" in err and "plain name" in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["a", "b", "tiny.yaml", "space.yaml"])


def test_tune_refuses_a_config_name_that_is_a_path(tmp_path: Path, tiny, monkeypatch, capsys) -> None:
    pytest.importorskip("optuna")
    monkeypatch.chdir(tmp_path)
    code = main(_tune_args(tmp_path, {**tiny, "name": "../../x"}))
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "plain name" in err, err
    assert not (tmp_path / "runs").exists() and not (tmp_path.parent.parent / "x-tune").exists()
