"""``fit`` names its data as the apply commands do: a folder or file, a registered name, or a spec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

import deepfeat
from deepfeat.cli import main
from deepfeat.errors import ConfigError

QUICK = ["--set", "training.epochs=1", "--set", "training.progress=none", "--set", "logging.plots=false",
         "--set", "logging.report=false", "--set", "evaluation.protocol=[]", "--set", "evaluation.embedding_plots=[]"]


@pytest.fixture
def imgs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``imgs/<a|b>/*.png``: 8x8 grayscale, 8 per class, in the working folder."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 256, (8, 8)).astype(np.uint8)).save(tmp_path / "imgs" / name / f"{i}.png")
    return tmp_path


def test_fit_data_a_folder_without_a_config(imgs: Path) -> None:
    assert main(["fit", "--data", "imgs", "--out", "runs/a", *QUICK]) == 0
    data = yaml.safe_load(Path("runs/a/config.yaml").read_text())["data"]
    assert data["name"] == "image_folder" and data["root"] == "imgs" and data["grayscale"] is True


def test_fit_data_keeps_the_configs_settings_for_the_same_source(imgs: Path) -> None:
    Path("c.yaml").write_text(yaml.safe_dump({"data": {"name": "image_folder", "root": "elsewhere", "size": 8,
                                                       "val_fraction": 0.25}}))
    assert main(["fit", "-c", "c.yaml", "--data", "imgs", "--out", "runs/b", *QUICK]) == 0
    data = yaml.safe_load(Path("runs/b/config.yaml").read_text())["data"]
    assert (data["root"], data["size"], data["val_fraction"]) == ("imgs", 8, 0.25)


def test_fit_data_a_name_and_a_spec(imgs: Path) -> None:
    assert main(["fit", "--data", "iris", "--out", "runs/c", *QUICK]) == 0
    assert main(["fit", "--data", "{name: image_folder, root: imgs, size: 4}", "--out", "runs/d", *QUICK]) == 0
    assert yaml.safe_load(Path("runs/d/config.yaml").read_text())["data"]["size"] == 4


def test_fit_data_naming_nothing_says_where_it_looked_and_the_nearest_name(imgs: Path, capsys) -> None:
    assert main(["fit", "--data", "irsi", "--out", "runs/e", *QUICK]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(Path("irsi").absolute()) in err and "'iris'" in err


def test_python_fit_takes_a_folder_as_data(imgs: Path) -> None:
    cfg = {"training": {"epochs": 1, "progress": "none"}, "logging": {"plots": False, "report": False},
           "evaluation": {"protocol": [], "embedding_plots": []}}
    run = deepfeat.fit(cfg, data="imgs", out="runs/f")
    assert run.config.data["name"] == "image_folder" and run.info.input_shape == (1, 32, 32)
    with pytest.raises(ConfigError, match="digits"):
        deepfeat.fit(cfg, data="digit", out="runs/g")
