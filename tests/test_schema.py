"""One declaration per config key: validation, --help-config, the JSON Schema, the docs and the fast checks all
read it, and its errors are deepfeat's one line."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest

from deepfeat.config import Config, LoggingConfig, fixed_sections, load_config
from deepfeat.engine.trainer import TrainingConfig
from deepfeat.errors import ConfigError
from deepfeat.schema import key, keys

DOCS = Path(__file__).resolve().parents[1] / "docs"


@dataclass
class _LoggingWithAKey(LoggingConfig):
    """What a run writes besides checkpoints and metrics (with one key more)."""

    flush_seconds: float = key(30.0, gt=0, help="a made-up key: seconds between flushes", since="9.9.0")


@pytest.fixture
def generate():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_key_declared_once_is_validated_helped_schemed_documented_and_prechecked(monkeypatch, generate) -> None:
    from deepfeat.cli.json_schema import config_json_schema
    from deepfeat.cli.reference import config_keys_text, config_schema

    import deepfeat.config

    monkeypatch.setitem(deepfeat.config._SECTIONS, "logging", _LoggingWithAKey)  # as if LoggingConfig declared it
    assert load_config({"logging": {"flush_seconds": "2"}}).logging.flush_seconds == 2.0  # validated and coerced
    with pytest.raises(ConfigError, match=r"^value out of range at logging.flush_seconds: expected a number > 0, got -1"):
        load_config({"logging": {"flush_seconds": -1}})
    line = next(line for line in config_keys_text().splitlines() if "logging.flush_seconds" in line)
    assert line.split()[1:3] == ["float", "30.0"] and "seconds between flushes (since 9.9.0)" in line
    declared = config_json_schema()["properties"]["logging"]["properties"]["flush_seconds"]
    assert declared["exclusiveMinimum"] == 0 and declared["default"] == 30.0 and declared["x-since"] == "9.9.0"
    assert "| `logging.flush_seconds` | float | `30.0` | a number > 0 | 9.9.0 | a made-up key" in generate.config_reference()
    cached = config_schema()
    assert "flush_seconds" in cached["sections"]["logging"] and "logging.flush_seconds" in cached["ranges"]


def test_every_declared_key_is_in_the_help_and_the_docs(generate) -> None:
    from deepfeat.cli.reference import config_keys_text

    helped, documented = config_keys_text(), generate.config_reference()
    for section, cls in fixed_sections().items():
        for k in keys(cls):
            assert f"  {section}.{k.name} " in helped and f"| `{section}.{k.name}` |" in documented
            assert k.help, f"{section}.{k.name} has no help"


@pytest.mark.parametrize("raw, line", [
    ({"training": {"epochs": 0}}, "value out of range at training.epochs: expected an integer >= 1 or null, got 0. "
                                  "Set training.epochs within that range."),
    ({"diagnostics": {"dead_share": 1.5}}, "value out of range at diagnostics.dead_share: expected a number in (0, 1], "
                                           "got 1.5. Set diagnostics.dead_share within that range."),
    ({"training": {"mode": "mxa"}}, "wrong type at training.mode: expected Literal['min', 'max'], got str 'mxa'. "
                                    "Did you mean 'max'?"),
    ({"evaluation": {"embedding_plots": ["pca", "tnse"]}}, "wrong type at evaluation.embedding_plots: expected "
     "list[Literal['pca', 'tsne', 'umap']], got list ['pca', 'tnse']. Did you mean 'tsne'?"),
    ({"seed": "first"}, "wrong type at seed: expected int, got str 'first'."),
    ({"training": {"epochs": True}}, "wrong type at training.epochs: expected int | None, got bool True."),
    ({"logging": {"plots": 1}}, "wrong type at logging.plots: expected bool, got int 1."),
    ({"data": {"name": "digits", "normalize": "yes"}}, "wrong type at data.normalize: expected bool, got str 'yes'."),
    ({"optimizer": {"name": "adam", "layer_decay": 0}}, "value out of range at optimizer.layer_decay: expected a "
                                                        "number in (0, 1] or null, got 0. Set optimizer.layer_decay "
                                                        "within that range."),
    ({"logging": {"experiment": "x"}}, "logging.experiment: expected logging.mlflow: true with it, got mlflow: false. "
                                       "Set logging.mlflow=true to track this run in MLflow, or drop logging.experiment."),
])
def test_each_error_is_one_line_naming_the_dotted_key(raw, line) -> None:
    with pytest.raises(ConfigError) as err:
        Config.from_dict(raw)
    assert str(err.value) == line


def test_a_section_built_in_python_is_refused_as_in_yaml() -> None:
    with pytest.raises(ConfigError) as in_python:
        TrainingConfig(batch_size=0)
    with pytest.raises(ConfigError) as in_yaml:
        Config.from_dict({"training": {"batch_size": 0}})
    assert str(in_python.value) == str(in_yaml.value)


def test_key_refuses_an_unknown_bound() -> None:
    with pytest.raises(TypeError, match="unknown bound 'min'"):
        key(1, help="x", min=0)
