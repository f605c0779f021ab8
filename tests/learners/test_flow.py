"""The normalizing flow (RealNVP): an exact density, so its log-determinant and its starting density can be checked
against what they must equal; it scores rows beyond the normal range along the normal rows' own direction high."""

from __future__ import annotations


import pytest
import torch

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.build import build_learner
from deepfeat.learners.flow import coupling_masks

MLP = {"name": "mlp", "hidden": [16]}


def test_masks_alternate_so_every_feature_is_transformed() -> None:
    masks = coupling_masks(7, 4, seed=3)
    assert masks.shape == (4, 7) and set(masks.unique().tolist()) == {0.0, 1.0}
    torch.testing.assert_close(masks[0] + masks[1], torch.ones(7))
    assert int(masks[0].sum()) == 3
    torch.testing.assert_close(coupling_masks(7, 4, seed=3), masks)  # seeded: a reloaded model rebuilds the same


def test_log_determinant_is_the_jacobian_s() -> None:
    torch.manual_seed(0)
    flow = build_learner({"name": "flow", "couplings": 4}, DataInfo("vector", (5,)), MLP)
    with torch.no_grad():  # away from the identity it starts as
        for p in flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    for row in torch.randn(3, 5):
        log_det = flow.forward_flow(row[None])[1][0]
        jacobian = torch.autograd.functional.jacobian(lambda r: flow.forward_flow(r[None])[0][0], row)
        assert abs(float(log_det.detach())) > 0.1  # not the identity's 0
        torch.testing.assert_close(log_det, torch.linalg.slogdet(jacobian)[1], atol=1e-4, rtol=1e-4)


def test_starts_as_the_standard_normal() -> None:
    flow = build_learner("flow", DataInfo("vector", (4,)), MLP)
    x = torch.randn(6, 4)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(x).sum(1)
    torch.testing.assert_close(flow.log_prob(x), expected)
    torch.testing.assert_close(flow.score_samples(x), -expected)


@pytest.mark.parametrize("spec, match", [({"name": "flow", "couplings": 1}, "couplings"),
                                         ({"name": "flow", "noise": -0.1}, "noise"),
                                         ({"name": "flow", "seed": -1}, "seed")])
def test_bad_settings_are_refused(spec: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_learner(spec, DataInfo("vector", (4,)), MLP)


def test_token_ids_are_refused() -> None:
    with pytest.raises(ConfigError, match="token ids"):
        build_learner("flow", DataInfo("tokens", (8,), tokenizer={"name": "word", "vocab": ["<pad>", "a"]}), MLP)


def test_rows_beyond_the_normal_range_score_high(beyond_range_auc) -> None:
    """Anomalies 3-5 standard deviations out along the normal rows' own direction, where a reconstruction error sees
    nothing odd: the density is low there."""
    assert beyond_range_auc({"name": "flow", "couplings": 4, "noise": 0.1}, {"name": "mlp", "hidden": [32]}) > 0.9
