"""``deepfeat config schema``: a valid JSON Schema (draft 2020-12) that every shipped example config satisfies and
that refuses what loading a config refuses: unknown keys and names, an argument a name does not take, a value out
of its range."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

jsonschema = pytest.importorskip("jsonschema", reason="the test extra's jsonschema checks the generated schema")

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "configs").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator(tmp_path_factory):
    from deepfeat.cli import main

    out = tmp_path_factory.mktemp("schema") / "deepfeat.schema.json"
    assert main(["config", "schema", "--out", str(out)]) == 0
    schema = json.loads(out.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema" and schema["title"].startswith("deepfeat")
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_config_is_valid(validator, path: Path) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert not errors, errors


@pytest.mark.parametrize("raw", [
    {"trainig": {}},
    {"training": {"epochs": 0}},
    {"training": {"precision": "fp8"}},
    {"encoder": {"name": "mlp", "hiden": [8]}},
    {"encoder": "mpl"},
    {"optimizer": {"name": "adam", "lr": "fast"}},
    {"data": {"name": "image_folder"}},  # its root is required
    {"data": {"name": "digits", "val_fraction": 1.5}},
    {"evaluation": {"protocol": ["knn", "knnn"]}},
    {"evaluation": {"settings": {"knn": {"k": "five"}}}},
])
def test_what_loading_refuses_the_schema_refuses(validator, raw) -> None:
    from deepfeat.config import Config
    from deepfeat.errors import ConfigError

    assert not validator.is_valid(raw)
    if "image_folder" not in str(raw):  # a missing argument is found when the dataset is built
        with pytest.raises(ConfigError):
            Config.from_dict(raw)


def test_a_name_s_arguments_and_the_section_s_own_keys_are_allowed(validator) -> None:
    assert validator.is_valid({"data": {"name": "image_folder", "root": "imgs", "val_fraction": 0.1},
                               "optimizer": {"name": "adamw", "lr": 0.01, "layer_decay": 0.8}, "learner": "vae",
                               "evaluation": {"protocol": ["linear", "cluster"], "settings": {"knn": {"k": [5, 20]}}}})


def test_the_schema_is_printed_without_out(capsys) -> None:
    from deepfeat.cli import main

    assert main(["config", "schema"]) == 0
    assert json.loads(capsys.readouterr().out)["properties"]["training"]["properties"]["epochs"]["anyOf"][0]["minimum"] == 1
