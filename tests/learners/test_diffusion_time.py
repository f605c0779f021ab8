"""Diffusion time estimation (DTE): the noise schedule is the paper's, the step bins are learned, and rows beyond the
normal range along the normal rows' own direction look blurred, so they score high."""

from __future__ import annotations

import pytest
import torch

from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.build import build_learner
from deepfeat.learners.diffusion_time import noise_levels

MLP = {"name": "mlp", "hidden": [16]}


def test_the_paper_schedule_spans_one_hundredth_to_nearly_one_standard_deviation() -> None:
    sigmas = noise_levels(400, 1e-4, 0.01)
    assert sigmas.shape == (400,) and bool((sigmas.diff() > 0).all())
    assert sigmas[0].item() == pytest.approx(0.01, rel=1e-3)  # sqrt(beta_1)
    expected_last = (1 - torch.prod(1 - torch.linspace(1e-4, 0.01, 400, dtype=torch.float64))).sqrt().item()
    assert sigmas[-1].item() == pytest.approx(expected_last, rel=1e-5) and 0.9 < expected_last < 0.95


def test_score_is_the_expected_bin_and_validation_draws_are_fixed() -> None:
    torch.manual_seed(0)
    dte = build_learner({"name": "diffusion_time", "bins": 5, "steps": 50}, DataInfo("vector", (4,)), MLP).eval()
    x = torch.randn(8, 4)
    probs = dte.head(dte.encoder(x)).softmax(1)
    torch.testing.assert_close(dte.score_samples(x), (probs * torch.arange(5.0)).sum(1))
    assert bool(((dte.score_samples(x) >= 0) & (dte.score_samples(x) <= 4)).all())
    torch.testing.assert_close(dte.validation_step((x,)), dte.validation_step((x,)))  # comparable epoch to epoch


def test_training_learns_how_blurred_a_sample_is() -> None:
    """On a tight 2-d Gaussian, after training, clean samples score in the first bins and samples blurred by the
    last step's noise in the last ones."""
    torch.manual_seed(0)
    dte = build_learner("diffusion_time", DataInfo("vector", (2,)), {"name": "mlp", "hidden": [32]})
    optimizer = torch.optim.Adam(dte.parameters(), lr=1e-2)
    x = 0.05 * torch.randn(256, 2)
    for _ in range(300):
        loss = dte.training_step((x,))["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    dte.eval()
    clean, blurred = dte.score_samples(x).mean().item(), dte.score_samples(x + dte.sigmas[-1] * torch.randn_like(x))
    assert clean < 1.0 and blurred.mean().item() > 3.0, (clean, blurred.mean())  # untrained: both near 3


@pytest.mark.parametrize("spec, match", [({"name": "diffusion_time", "bins": 1}, "bins"),
                                         ({"name": "diffusion_time", "bins": 8, "steps": 4}, "steps"),
                                         ({"name": "diffusion_time", "beta_end": 1.5}, "beta_end"),
                                         ({"name": "diffusion_time", "beta_start": 0}, "beta_start"),
                                         ({"name": "diffusion_time", "seed": -1}, "seed")])
def test_bad_settings_are_refused(spec: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_learner(spec, DataInfo("vector", (4,)), MLP)


def test_token_ids_are_refused() -> None:
    with pytest.raises(ConfigError, match="token ids"):
        build_learner("diffusion_time", DataInfo("tokens", (8,), tokenizer={"name": "word", "vocab": ["<pad>", "a"]}),
                      MLP)


def test_rows_beyond_the_normal_range_score_high(beyond_range_auc) -> None:
    """Anomalies 3-5 standard deviations out along the normal rows' own direction, where a reconstruction error sees
    nothing odd: they look like normal rows blurred by more noise."""
    assert beyond_range_auc({"name": "diffusion_time"}, {"name": "mlp", "hidden": [64, 32], "norm": "batch"}) > 0.9
