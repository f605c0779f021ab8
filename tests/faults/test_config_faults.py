"""Config faults: empty files, Python tags and out-of-range optimizer settings fail when the config loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deepfeat.cli import main
from deepfeat.config import load_config
from deepfeat.errors import ConfigError
from deepfeat.optim.optimizers import build_optimizer


@pytest.mark.parametrize("text", ["", "# only a comment\n\n# and another\n", "   \n"])
def test_empty_config_file_is_refused_with_the_file_and_the_sections(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert f"config file {path} is empty" in message
    assert "expected sections such as data, encoder, learner" in message and "examples/configs" in message


def test_empty_mapping_still_means_every_default(tmp_path: Path) -> None:
    (tmp_path / "defaults.yaml").write_text("{}\n")
    assert load_config(tmp_path / "defaults.yaml") == load_config(None)


def test_python_tags_are_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f"data: !!python/object/apply:os.mkdir ['{marker}']\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message and "python/object/apply:os.mkdir" in message and "line 1" in message
    assert "write the value as plain data" in message and "\n" not in message
    assert not marker.exists()


def test_broken_yaml_is_one_line_with_the_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("training:\n  epochs: [1,\n")
    with pytest.raises(ConfigError, match=r"not valid YAML \(.* at line \d+, column \d+\)") as err:
        load_config(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_cli_prints_one_line_and_exits_2_for_an_empty_config(tmp_path: Path, capsys) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: config file {path} is empty")


@pytest.mark.parametrize("override,message", [
    ("optimizer.lr=-1", "optimizer.lr: expected a number > 0, got -1"),
    ("optimizer.lr=0", "optimizer.lr: expected a number > 0, got 0"),
    ("optimizer.lr=.nan", "optimizer.lr: expected a number > 0, got nan"),
    ("optimizer.weight_decay=-0.1", "optimizer.weight_decay: expected a number >= 0, got -0.1"),
    ("optimizer.betas=[0.9, 1.5]", "optimizer.betas: expected two numbers in [0, 1), got [0.9, 1.5]"),
])
def test_out_of_range_optimizer_settings_fail_when_the_config_loads(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config({"optimizer": {"name": "adam"}}, overrides=[override])
    assert str(err.value).startswith(message)
    assert "Typical values" in str(err.value) or "default is" in str(err.value)


def test_negative_momentum_fails_in_the_yaml_file_too(tmp_path: Path) -> None:
    path = tmp_path / "sgd.yaml"
    path.write_text("optimizer: {name: sgd, lr: 0.1, momentum: -0.5}\n")
    with pytest.raises(ConfigError, match=r"^optimizer.momentum: expected a number >= 0, got -0.5\. "):
        load_config(path)


def test_build_optimizer_checks_the_same_ranges() -> None:
    with pytest.raises(ConfigError, match=r"^optimizer.lr: expected a number > 0, got -0.001"):
        build_optimizer({"name": "adamw", "lr": -1e-3}, torch.nn.Linear(2, 2))


def test_fit_with_a_negative_lr_exits_2_before_the_run_folder_exists(tmp_path: Path, capsys) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text("data: digits\ntraining: {epochs: 1}\n")
    out = tmp_path / "run"
    assert main(["fit", "-c", str(path), "--set", "optimizer.lr=-1", "--out", str(out)]) == 2
    assert "optimizer.lr: expected a number > 0, got -1" in capsys.readouterr().err
    assert not out.exists()


def _every_section_key() -> list[str]:
    """``section.key`` for every key of the default config: each fixed section's fields, and each ``{name: ...}``
    section's factory arguments plus the keys the library reads there itself (``data.val_fraction``)."""
    import dataclasses

    from deepfeat.config import SECTION_KEYS, SPECS, Config

    config, keys = Config(), []
    for f in dataclasses.fields(Config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            keys += [f"{f.name}.{g.name}" for g in dataclasses.fields(value)]
        elif f.name in SPECS:
            own = SPECS[f.name].params(value["name"]) or {}
            also = [g.name for g in dataclasses.fields(SECTION_KEYS[f.name])] if f.name in SECTION_KEYS else []
            keys += [f"{f.name}.{k}" for k in [*own, *also]]
    return keys


@pytest.mark.parametrize("key", _every_section_key())
def test_a_mistyped_key_of_any_section_suggests_the_real_one(key: str) -> None:
    section, name = key.split(".")
    with pytest.raises(ConfigError) as err:
        load_config(None, [f"{section}.{name}{name[-1]}=1"])  # "optimizer.lrr", "training.batch_sizee"
    assert str(err.value).endswith(f"Did you mean '{name}'?"), str(err.value)
