"""GOAD's table mode of transformation prediction: the distance-softmax loss and score against a hand computation,
and a score that is not inverted when anomalies lie along the normal rows' direction beyond their range."""

from __future__ import annotations

import math

import pytest
import torch

from deepfeat.errors import ConfigError
from deepfeat.learners.goad import GoadTables, goad_loss


def hand(z: torch.Tensor, centres: torch.Tensor) -> list[list[list[float]]]:
    """Squared distances d[m][i][k] = ||z[m, i] - centres[k]||^2, one at a time."""
    return [[[float(((z[m, i] - centres[k]) ** 2).sum()) for k in range(len(centres))] for i in range(z.shape[1])]
            for m in range(len(z))]


def test_loss_and_score_match_a_hand_computation() -> None:
    g = torch.Generator().manual_seed(0)
    z, centres = torch.randn(3, 4, 2, generator=g, dtype=torch.float64), torch.randn(3, 2, generator=g, dtype=torch.float64)
    tables = GoadTables(dim=5, count=3, feature_dim=2, eps=0.01).double()
    tables.centres = centres
    d, eps = hand(z, centres), 0.01
    prob = [[[math.exp(-d[m][i][m]) / sum(math.exp(-v) for v in d[m][i]) for i in range(4)] for m in range(3)]]
    score = [-sum(math.log((prob[0][m][i] + eps) / (1 + 3 * eps)) for m in range(3)) for i in range(4)]
    torch.testing.assert_close(tables.score(z), torch.tensor(score, dtype=torch.float64))

    batch = hand(z, z.mean(1))  # training uses the batch's centres
    xent = -sum(math.log(math.exp(-batch[m][i][m]) / sum(math.exp(-v) for v in batch[m][i]))
                for m in range(3) for i in range(4)) / 12
    triplet = sum(max(0.0, batch[m][i][m] + 1.0 - min(v for k, v in enumerate(batch[m][i]) if k != m))
                  for m in range(3) for i in range(4)) / 12
    assert goad_loss(z, None)["loss"].item() == pytest.approx(xent)
    assert goad_loss(z, 1.0)["loss"].item() == pytest.approx(triplet)


def test_bad_margin_is_refused() -> None:
    with pytest.raises(ConfigError, match="learner.margin"):
        GoadTables(dim=3, count=2, feature_dim=2, margin=0.0)


def test_rows_beyond_the_normal_range_score_high(beyond_range_auc) -> None:
    """Anomalies 3-5 standard deviations out along the normal rows' own direction: a score that rewards rows for
    being easy to tell apart ranks them normal. The centres are saved with the model (the fixture checks it)."""
    assert beyond_range_auc({"name": "transform_prediction"}, {"name": "mlp", "hidden": [32, 16]}) > 0.75
