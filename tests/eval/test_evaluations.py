"""The one evaluation registry: a registered evaluation needs no other edit, and what collides is refused."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import pytest

from deepfeat.config import load_config
from deepfeat.errors import ConfigError
from deepfeat.eval import EVALUATIONS, register_evaluation, run_protocol
from deepfeat.eval.evaluations import evaluation_spec, protocol_names


@pytest.fixture
def forget() -> Iterator[list[str]]:
    """Names registered by a test, removed afterwards so the process-wide registry stays as shipped."""
    names: list[str] = []
    yield names
    for name in names:
        entry = EVALUATIONS._entries.pop(name, None)
        for alias in entry.aliases if entry else ():
            EVALUATIONS._aliases.pop(alias, None)


def test_a_registered_protocol_runs_and_takes_settings_without_any_other_edit(forget) -> None:
    forget.append("mean_norm_test_only")

    @register_evaluation("mean_norm_test_only", reads="test_features", defaults={"power": 2.0},
                         outputs={"mean_norm": float})
    def mean_norm(z: Any, *, power: float = 1.0) -> dict[str, Any]:
        norms = np.linalg.norm(np.asarray(z), axis=1) ** power
        return {"mean_norm": float(norms.mean()), "settings": {"power": power}}

    assert "mean_norm_test_only" in protocol_names()
    z = np.ones((4, 9))
    pinned = run_protocol(z, None, z, None, ["mean_norm_test_only"])["mean_norm_test_only"]
    assert pinned["mean_norm"] == pytest.approx(9.0) and pinned["settings"]["power"] == 2.0  # the pinned default
    cfg = load_config({"evaluation": {"protocol": ["mean_norm_test_only"],
                                      "settings": {"mean_norm_test_only": {"power": "1"}}}})
    assert cfg.evaluation.settings["mean_norm_test_only"] == {"power": "1"}
    assert evaluation_spec("mean_norm_test_only").check_settings({"power": "1"}, "s") == {"power": 1.0}
    with pytest.raises(ConfigError, match="mean_norm_test_only.powr.*Did you mean 'power'"):
        load_config({"evaluation": {"settings": {"mean_norm_test_only": {"powr": 1}}}})


def test_settings_names_that_collide_are_refused_at_registration(forget) -> None:
    forget.append("collides_test_only")
    with pytest.raises(ConfigError, match="'knn', which already names the evaluation 'knn'"):
        register_evaluation("collides_test_only", aliases=("knn",), reads="test_features", outputs={})(lambda z: {})
    with pytest.raises(ConfigError, match="already names the evaluation 'linear_probe'"):
        register_evaluation("linear", reads="test_features", outputs={})(lambda z: {})
    with pytest.raises(ConfigError, match="recorded keys.*got fingerprint"):
        register_evaluation("collides_test_only", reads="test_features", outputs={})(lambda z, *, fingerprint=0: {})
    with pytest.raises(ConfigError, match="expected 1 positional argument.*got 2"):
        register_evaluation("collides_test_only", reads="run", outputs={})(lambda ctx, k=5: {})
    assert "collides_test_only" not in EVALUATIONS


def test_a_run_evaluation_is_not_a_feature_protocol() -> None:
    import deepfeat.run  # noqa: F401  (registers the run's evaluations)

    assert not evaluation_spec("anomaly").on_features and evaluation_spec("anomaly").requires == {"scores"}
    with pytest.raises(ConfigError, match="protocol at evaluation.protocol: expected an evaluation of features"):
        load_config({"evaluation": {"protocol": ["anomaly"]}})


def test_the_former_probe_keys_load_as_settings_with_one_notice(caplog) -> None:
    cfg = load_config({"evaluation": {"probe_C": 0.5, "knn_k": [3], "knn_metric": "euclidean",
                                      "protocol_settings": {"fewshot": {"draws": 2}},
                                      "settings": {"knn": {"k": [7]}}}})
    assert cfg.evaluation.settings == {"linear_probe": {"C": 0.5}, "knn": {"k": [7], "metric": "euclidean"},
                                       "fewshot": {"draws": 2}}  # what settings gives itself wins
    notices = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert len(notices) == 1 and "knn_k" in notices[0] and "evaluation.settings" in notices[0]
    assert not {"probe_C", "knn_k", "knn_metric", "protocol_settings"} & cfg.to_dict()["evaluation"].keys()
