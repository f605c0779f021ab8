"""Token views for self-supervised text: deletion closes up to the left, masking uses <unk>, pads stay pads."""

from __future__ import annotations

import pytest
import torch

import deepfeat  # noqa: F401  (registers everything)
from deepfeat.data.augment import build_augment
from deepfeat.data.info import DataInfo
from deepfeat.errors import ConfigError
from deepfeat.learners.base import StepContext
from deepfeat.learners.build import build_learner


def test_deletion_and_masking_keep_a_right_padded_message() -> None:
    x = torch.tensor([[5, 6, 7, 8, 9, 0, 0], [4, 0, 0, 0, 0, 0, 0]])
    aug = build_augment({"name": "tokens", "delete_p": 0.4, "mask_p": 0.3}, "tokens")
    out = aug(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.equal(out, aug(x, torch.Generator().manual_seed(0)))
    for row, orig in zip(out, x):
        n = int((row != 0).sum())
        assert 1 <= n <= int((orig != 0).sum()) and (row[n:] == 0).all()  # still right-padded, never empty
        kept = [int(t) for t in row[:n] if t != 1]
        assert all(t in orig.tolist() for t in kept) and kept == sorted(kept, key=orig.tolist().index)  # order kept
    many = aug(torch.randint(2, 50, (200, 20)), torch.Generator().manual_seed(1))
    assert 0.2 < float((many == 0).float().mean()) < 0.6 and 0.1 < float((many == 1).float().mean()) < 0.3
    assert torch.equal(build_augment({"name": "tokens", "delete_p": 0, "mask_p": 0}, "tokens")(x, torch.Generator()), x)
    with pytest.raises(ConfigError, match="delete_p"):
        build_augment({"name": "tokens", "delete_p": 1.0}, "tokens")


@pytest.mark.parametrize("name", ["simclr", "vicreg"])
def test_text_views_train_a_label_free_learner(name: str) -> None:
    info = DataInfo("tokens", (10,))
    encoder = {"name": "text_rnn", "vocab_size": 20, "embed_dim": 8, "hidden_size": 8}
    learner = build_learner({"name": name, "augment": {"name": "tokens"}}, info, encoder)
    x = torch.randint(2, 20, (8, 10))
    metrics = learner.update((x, None), learner.configure_optimizers({"name": "adam"}), StepContext())
    assert torch.isfinite(metrics["loss"]) and not metrics["skipped"]
