"""Masked autoencoder: masks of whole patches at the asked ratio, a loss on hidden parts only, and features that
improve on random ones on digits."""

from __future__ import annotations

import pytest
import torch

import deepfeat  # noqa: F401  (registers everything)
from deepfeat.data.datasets import load_dataset
from deepfeat.data.info import DataInfo
from deepfeat.engine.device import Precision
from deepfeat.engine.inference import collect
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import ConfigError
from deepfeat.eval.probes import linear_probe
from deepfeat.learners.build import build_learner
from deepfeat.learners.masked_autoencoder import auto_patch, random_mask


def test_image_mask_hides_whole_patches_at_the_ratio_for_every_channel() -> None:
    mask = random_mask((6, 3, 28, 28), (4, 4), 0.75, torch.Generator().manual_seed(0))
    assert mask.shape == (6, 1, 28, 28) and mask.dtype == torch.bool
    patches = mask.view(6, 7, 4, 7, 4)
    assert (patches.all((2, 4)) == patches.any((2, 4))).all()  # a patch is hidden whole or not at all
    assert patches[:, :, 0, :, 0].sum((1, 2)).tolist() == [37] * 6  # round(0.75 * 49) of each sample's patches
    assert not torch.equal(mask[0], mask[1])  # each sample its own patches


def test_series_spans_vector_features_and_uneven_edges() -> None:
    g = torch.Generator().manual_seed(1)
    spans = random_mask((4, 2, 150), auto_patch((2, 150)), 0.5, g)
    assert auto_patch((2, 150)) == (18,) and spans.shape == (4, 1, 150)
    # 9 spans of 18 steps (the last cut to 6): a span is hidden whole, 4 or 5 of 9 (round(4.5) = 4) per sample
    starts = spans[:, 0, ::18]
    assert (spans[:, 0, :144].view(4, 8, 18).all(2) == starts[:, :8]).all() and starts.sum(1).tolist() == [4] * 4
    features = random_mask((5, 30), auto_patch((30,)), 0.3, g)
    assert auto_patch((30,)) == (1,) and features.shape == (5, 30) and features.sum(1).tolist() == [9] * 5


def test_loss_is_taken_on_hidden_elements_only() -> None:
    info = DataInfo("image", (1, 8, 8))
    learner = build_learner({"name": "mae", "patch": 2, "mask_ratio": 0.5}, info, {"name": "cnn", "channels": [8]})
    x = torch.randn(4, 1, 8, 8)
    out = learner.validation_step((x, None))
    mask = random_mask(tuple(x.shape), (2, 2), 0.5, torch.Generator().manual_seed(learner.seed + 1))
    with torch.no_grad():
        errors = (learner.decoder(learner.encoder(x.masked_fill(mask, 0.0))) - x) ** 2
    torch.testing.assert_close(out["loss"], errors[mask.expand_as(errors)].mean())
    torch.testing.assert_close(out["visible_mse"], errors[~mask.expand_as(errors)].mean())
    with pytest.raises(ConfigError, match="mask_ratio"):
        build_learner({"name": "mae", "mask_ratio": 1.0}, info, {"name": "cnn", "channels": [8]})


@pytest.mark.slow  # ~15 s on one thread
def test_mae_features_beat_random_init_features_on_digits() -> None:
    data = load_dataset("digits", val_fraction=0.0, test_fraction=0.3)
    learner = build_learner({"name": "mae", "patch": 2}, data.info, {"name": "cnn", "channels": [32, 64]})
    fp32 = Precision(torch.device("cpu"), None, False)

    def probe() -> float:
        train_z, train_y = collect(learner, data.train, fp32, learner.embed)
        test_z, test_y = collect(learner, data.test, fp32, learner.embed)
        return linear_probe(train_z, train_y, test_z, test_y)["accuracy"]

    random_acc = probe()
    config = TrainingConfig(epochs=20, batch_size=64, progress="none", precision="fp32", monitor="train/loss")
    Trainer(config, seed=0).fit(learner, data, optimizer={"name": "adamw", "lr": 2e-3})
    trained_acc = probe()
    # random conv features give a ~93% probe on digits; masked reconstruction must cut that error by a third
    assert 1 - trained_acc < 0.67 * (1 - random_acc), (random_acc, trained_acc)


def _texts(n: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """Ids (n, length) of two topics (ids 2-9 or 10-17), each text right-padded after 4 to ``length`` tokens."""
    topic = torch.randint(0, 2, (n, 1), generator=generator)
    x = torch.randint(2, 10, (n, length), generator=generator) + 8 * topic
    real = torch.arange(length) < torch.randint(4, length + 1, (n, 1), generator=generator)
    return x * real


def test_text_masks_real_tokens_bert_style_and_the_loss_is_their_cross_entropy() -> None:
    info = DataInfo("tokens", (12,))
    learner = build_learner({"name": "mae", "mask_ratio": 0.3}, info, {"name": "text_tcn", "vocab_size": 20, "embed_dim": 8})
    x = _texts(6, 12, torch.Generator().manual_seed(0))
    out = learner.validation_step((x, None))
    mask = random_mask(tuple(x.shape), (1,), 0.3, torch.Generator().manual_seed(learner.seed + 1)) & (x != 0)
    with torch.no_grad():
        logits = learner.decoder(learner.encoder(x.masked_fill(mask, 1)))
    expected = torch.nn.functional.cross_entropy(logits.repeat_interleave(12, 0)[mask.flatten()], x[mask])
    torch.testing.assert_close(out["loss"], expected)


def test_text_mae_learns_to_fill_in_hidden_tokens() -> None:
    torch.manual_seed(0)
    info = DataInfo("tokens", (10,))
    learner = build_learner({"name": "mae", "mask_ratio": 0.3}, info, {"name": "text_tcn", "vocab_size": 18, "embed_dim": 16})
    x = _texts(256, 10, torch.Generator().manual_seed(1))
    before = float(learner.validation_step((x, None))["loss"])
    optimizer = torch.optim.Adam(learner.parameters(), lr=1e-2)
    for _ in range(60):
        loss = learner.training_step((x[torch.randint(0, 256, (64,))], None))["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    # a hidden token is one of its topic's 8 ids: log 8 = 2.08 nats at best, log 16 = 2.77 knowing no topic
    after = float(learner.eval().validation_step((x, None))["loss"])
    assert after < min(2.3, before - 0.4), (before, after)
