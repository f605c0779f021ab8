"""Strict config validation, --set overrides and the resolved config round-trip."""

from __future__ import annotations

import pytest
import yaml

from deepfeat.config import Config, apply_override, load_config
from deepfeat.errors import ConfigError


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"optimizer": {"name": "adam", "lrr": 0.1}}, "unknown key 'optimizer.lrr'.*Did you mean 'lr'"),
        ({"trainig": {}}, "unknown key 'trainig'.*Did you mean 'training'"),
        ({"training": {"epoch": 3}}, "unknown key 'training.epoch'.*Did you mean 'epochs'"),
        ({"encoder": {"name": "mlpp"}}, "unknown encoder 'mlpp' at encoder.name.*Did you mean 'mlp'"),
        ({"optimizer": "adamm"}, "unknown optimizer 'adamm'.*Did you mean 'adam'"),
        ({"training": {"epochs": "ten"}}, r"wrong type at training.epochs: expected int \| None, got str 'ten'"),
        ({"encoder": {"name": "mlp", "hidden": "big"}}, "wrong type at encoder.hidden"),
        ({"data": {"name": "digits", "val_fractoin": 0.1}}, "unknown key 'data.val_fractoin'"),
        ({"training": {"epochs": 0}}, "training.epochs: expected an integer >= 1"),
    ],
)
def test_bad_configs_name_the_dotted_path_and_the_close_match(raw, message) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_dict(raw)


def test_names_are_resolved_only_through_registries() -> None:
    with pytest.raises(ConfigError, match="unknown optimizer 'torch.optim.SGD'"):
        Config.from_dict({"optimizer": {"name": "torch.optim.SGD"}})
    with pytest.raises(ConfigError, match="unknown learner 'os.system'"):
        Config.from_dict({"learner": "os.system"})


def test_yaml_1e_minus_3_is_read_as_a_float() -> None:
    raw = yaml.safe_load("optimizer: {name: adam, lr: 1e-3}")
    assert raw["optimizer"]["lr"] == "1e-3"  # YAML 1.1's quirk
    assert Config.from_dict(raw).optimizer["lr"] == pytest.approx(1e-3)


def test_overrides_are_type_checked() -> None:
    cfg = load_config(None, ["training.epochs=3", "optimizer.lr=0.1", "encoder.hidden=[32, 16]"])
    assert cfg.training.epochs == 3 and cfg.optimizer["lr"] == 0.1 and cfg.encoder["hidden"] == [32, 16]
    with pytest.raises(ConfigError, match="wrong type at training.batch_size"):
        load_config(None, ["training.batch_size=large"])
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config(None, ["training.epochs"])


def test_override_on_a_name_only_section() -> None:
    raw = {"optimizer": "sgd"}
    apply_override(raw, "optimizer.lr=0.5")
    assert raw["optimizer"] == {"name": "sgd", "lr": 0.5}


def test_resolved_config_round_trips_through_yaml() -> None:
    cfg = load_config({"encoder": {"name": "cnn", "channels": [8, 16]}, "training": {"epochs": 2}})
    again = Config.from_dict(yaml.safe_load(cfg.to_yaml()))
    assert again == cfg


def test_evaluation_protocol_is_the_one_way_to_choose_evaluators() -> None:
    assert "linear_probe" not in Config().to_dict()["evaluation"]
    # Run folders written before hold the removed flag: true changes nothing, false drops the linear probe.
    assert load_config({"evaluation": {"linear_probe": True, "protocol": ["knn", "cluster"]}}).evaluation.protocol == ["knn", "cluster"]
    assert load_config({"evaluation": {"linear_probe": False}}).evaluation.protocol == ["knn", "retrieval"]
    with pytest.raises(ConfigError, match="evaluation.linear_probe: expected true or false.*evaluation.protocol"):
        load_config({"evaluation": {"linear_probe": "no"}})
