"""Old config keys go through one ordered list of versioned steps: each rewrites its former keys, says so once, and
every former key it names loads and passes the fast checks."""

from __future__ import annotations

import logging

import pytest

from deepfeat.config import load_config
from deepfeat.migrations import MIGRATIONS, former_keys, migrate


def test_every_step_names_its_version_and_what_it_does() -> None:
    for step in MIGRATIONS:
        assert step.since.count(".") == 2 and step.description


@pytest.mark.parametrize("raw, loaded", [
    ({"data": {"name": "digits", "train_classes": [0, 1]}}, lambda c: c.data["normal_classes"] == [0, 1]),
    ({"evaluation": {"knn_k": 7, "probe_C": 0.5}},
     lambda c: c.evaluation.settings == {"knn": {"k": 7}, "linear_probe": {"C": 0.5}}),
    ({"learner": {"name": "vae", "eval_samples": 100}},
     lambda c: c.evaluation.settings["generative"] == {"samples": 100}),
    ({"learner": {"name": "autoencoder", "noise": {"name": "gaussian"}}}, lambda c: c.learner["name"] == "denoising"),
    ({"evaluation": {"linear_probe": False}}, lambda c: c.evaluation.protocol == ["knn", "retrieval"]),
])
def test_each_former_key_loads_as_todays_with_one_deprecation_notice(raw, loaded, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="deepfeat"):
        config = load_config(raw)
    assert loaded(config)
    notices = [r.getMessage() for r in caplog.records
               if "deprecated" in r.getMessage() or "resolved to" in r.getMessage()]
    assert len(notices) == 1, notices


def test_a_config_without_former_keys_is_left_as_it_is(caplog) -> None:
    raw = {"data": {"name": "digits", "normal_classes": [0]}, "evaluation": {"settings": {"knn": {"k": 3}}}}
    with caplog.at_level(logging.WARNING, logger="deepfeat"):
        assert migrate(dict(raw), load_config(None).to_dict) == raw
    assert not caplog.records


def test_every_former_key_passes_the_fast_checks(tmp_path, monkeypatch) -> None:
    from deepfeat.cli.precheck import precheck
    from deepfeat.cli.reference import _cache_file, _everything, write_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    write_cache(_cache_file(), _everything())
    for section, keys in former_keys().items():
        for key in keys:
            precheck({section: {"name": "digits", key: None} if section == "data" else {key: None}})
