"""Every registered learner: built from defaults, one update, finite loss, embed shape, export round-trip.

A learner registered tomorrow is tested the day it is registered (timm's idea). Learners that need
something other than the defaults below are listed in ``ARGS``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepfeat  # noqa: F401  (registers everything)
from deepfeat.data.bundle import from_arrays
from deepfeat.run.model_io import export_model, load_model
from deepfeat.learners.base import StepContext
from deepfeat.learners.build import LEARNERS, build_learner

# learner name -> (encoder spec, learner kwargs); anything absent uses a small CNN and defaults.
ARGS: dict[str, tuple[object, dict]] = {
    # a gradient penalty needs a critic without batch norm
    "wgan_gp": ({"name": "cnn", "channels": [8, 16], "norm": "layer"}, {}),
    # token ids in, a text encoder; the decoder's vocabulary comes from the tokenizer in DataInfo
    "seq_autoencoder": ({"name": "text_rnn", "vocab_size": 20, "embed_dim": 8, "hidden_size": 8}, {"hidden_size": 16}),
}


def _images(n: int = 32):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 8, 8, generator=g)
    y = torch.arange(n) % 4
    return from_arrays(x.numpy(), y.numpy(), kind="image", val_fraction=0.0, test_fraction=0.0)


def _tokens(n: int = 32):
    """Right-padded token ids (n, 10) over a 20-word vocabulary, with the tokenizer a text dataset stores."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, 20, (n, 10), generator=g)
    x[:, 4:] *= torch.arange(10)[4:] < torch.randint(4, 11, (n, 1), generator=g)  # lengths 4..10
    data = from_arrays(x.numpy(), (torch.arange(n) % 2).numpy(), kind="tokens", val_fraction=0.0, test_fraction=0.0)
    data.info.tokenizer = {"name": "word", "max_length": 10, "vocab": ["<pad>", "<unk>", *map(str, range(18))]}
    return data


# learner name -> the data it learns from; anything absent gets _images().
DATA = {"seq_autoencoder": _tokens}


@pytest.mark.parametrize("name", LEARNERS.names())
def test_learner_conformance(name: str, tmp_path) -> None:
    data = DATA.get(name, _images)()
    encoder, kwargs = ARGS.get(name, ({"name": "cnn", "channels": [8, 16]}, {}))
    spec = {"name": name, **kwargs}
    learner = build_learner(spec, data.info, encoder)
    batch = next(data.train.batches(16, shuffle=True, generator=torch.Generator().manual_seed(0)))
    optimizers = learner.configure_optimizers({"name": "adam", "lr": 1e-3})
    learner.train()
    metrics = learner.update(batch, optimizers, StepContext())
    assert "skipped" not in metrics
    assert torch.isfinite(metrics["loss"]), metrics
    learner.eval()
    with torch.no_grad():
        z = learner.embed(batch[0])
        val = learner.validation_step(batch)
    assert z.shape == (16, learner.feature_dim)
    assert torch.isfinite(z).all() and all(torch.isfinite(v).all() for v in val.values())
    export_model(learner, data.info, spec, encoder, tmp_path / "model")
    again, info = load_model(tmp_path / "model")
    assert info == data.info
    with torch.no_grad():
        np.testing.assert_array_equal(again.embed(batch[0]).numpy(), z.numpy())
