"""Deep SVDD: a bias-free network, a fixed center, distance to it as the anomaly score (Ruff et al. 2018)."""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import pytest
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from deepfeat.data.datasets import load_dataset
from deepfeat.engine.device import Precision
from deepfeat.engine.fit_batches import FitBatches
from deepfeat.engine.inference import collect
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import ConfigError, TrainingError
from deepfeat.learners.ae_pretraining import pretrain_autoencoder, reconstruction_loss
from deepfeat.learners.build import build_learner
from deepfeat.run.model_io import export_model, load_model

MLP = {"name": "mlp", "hidden": [128, 64]}


def _fit(data, epochs: int = 15):
    learner = build_learner({"name": "deep_svdd", "rep_dim": 16}, data.info, MLP)
    Trainer(TrainingConfig(epochs=epochs, batch_size=64, progress="none", restore_best=False, precision="fp32")).fit(
        learner, data, optimizer={"name": "adam", "lr": 1e-3, "weight_decay": 1e-6})
    return learner.eval()


def test_network_is_bias_free_and_the_center_is_the_initial_mean() -> None:
    data = load_dataset("digits", normal_classes=[0])
    learner = build_learner({"name": "deep_svdd", "rep_dim": 16, "eps": 0.1}, data.info, MLP)
    trainable = [n for n, p in learner.named_parameters() if p.requires_grad]
    assert trainable and not any("bias" in n for n in trainable)  # no bias, no norm shift can train
    assert all(p.abs().sum() == 0 for n, p in learner.named_parameters() if n.endswith("bias"))
    learner.on_fit_start(data.train.batches(64), lambda x: x, contextlib.nullcontext)
    learner.eval()
    with torch.no_grad():
        mean = learner.embed(data.train.x).mean(0)
    expected = torch.where(mean.abs() < 0.1, torch.where(mean < 0, -0.1, 0.1), mean)
    torch.testing.assert_close(learner.center, expected, rtol=1e-4, atol=1e-5)
    before = learner.center.clone()
    learner.on_fit_start(data.train.batches(64), lambda x: 2 * x, contextlib.nullcontext)  # a resume keeps it
    assert torch.equal(learner.center, before)


def test_one_class_digits_ranks_the_other_digits_as_anomalies() -> None:
    """Normal digits 0, 3, 8 in turn: Deep SVDD's distance ranks the other digits as anomalies, near IsolationForest."""
    fp32 = Precision(torch.device("cpu"), None, False)
    ours, forest = [], []
    for digit in (0, 3, 8):
        data = load_dataset("digits", normal_classes=[digit])
        learner = _fit(data)
        scores, y = collect(learner, data.test, fp32, learner.score_samples)
        labels = y != digit
        ours.append(roc_auc_score(labels, scores))
        iso = IsolationForest(random_state=0).fit(data.train.x.flatten(1).numpy())
        forest.append(roc_auc_score(labels, -iso.score_samples(data.test.x.flatten(1).numpy())))
    # Measured 0.999, 0.976, 0.894 (15 epochs, mean 0.956; IsolationForest 1.0, 0.986, 0.936, mean 0.974);
    # a network that ignores its input scores ~0.5.
    assert min(ours) > 0.85 and np.mean(ours) > 0.93 and np.mean(ours) >= np.mean(forest) - 0.05


# -- autoencoder pretraining (Ruff et al. 2018, section 4.1) --------------------------------------------------

BN_MLP = {"name": "mlp", "hidden": [64, 32], "norm": "batch"}


def _vectors():
    """A tiny vector dataset: breast_cancer's 30 standardized features, the benign class as normal (250 train)."""
    return load_dataset("breast_cancer", normal_classes=["benign"])


def _held_out_mse(learner, decoder, x) -> float:
    learner.eval(), decoder.eval()
    with torch.no_grad():
        return float(reconstruction_loss(learner.embed, decoder, x))


def test_pretraining_trains_the_encoder_to_reconstruct_and_keeps_it_bias_free(caplog) -> None:
    data = load_dataset("digits", normal_classes=[0])
    torch.manual_seed(0)
    learner = build_learner({"name": "deep_svdd", "rep_dim": 8}, data.info, BN_MLP)
    decoder = learner.mirror_decoder()
    before = {k: v.clone() for k, v in learner.state_dict().items()}
    mse_before = _held_out_mse(learner, decoder, data.val.x)
    with caplog.at_level(logging.INFO, logger="deepfeat"):
        history = pretrain_autoencoder(learner, learner.embed, decoder, FitBatches(data.train, 32), lambda x: x,
                                       contextlib.nullcontext, 30, 3e-3, name="deep_svdd")
    assert len(history) == 30 and history[-1] < 0.5 * history[0]
    assert sum("deep_svdd pretraining epoch" in r.getMessage() for r in caplog.records) == 30  # progress per epoch
    assert _held_out_mse(learner, decoder, data.val.x) < 0.7 * mse_before  # reconstructs unseen normal data
    assert not torch.equal(learner.encoder.mlp.net[0].weight, before["encoder.mlp.net.0.weight"])
    for m in (learner, decoder):
        for name, p in m.named_parameters():  # every bias 0 and every norm scale 1, still untrainable
            if name.endswith("bias") or p.dim() == 1:
                assert not p.requires_grad and torch.all(p == (0.0 if name.endswith("bias") else 1.0)), name


def test_pretraining_runs_once_before_the_center_and_the_decoder_is_not_kept(tmp_path) -> None:
    data = _vectors()
    spec = {"name": "deep_svdd", "rep_dim": 8, "pretrain_epochs": 5, "pretrain_lr": 1e-3}
    torch.manual_seed(0)
    learner = build_learner(spec, data.info, MLP)
    torch.manual_seed(0)
    plain = build_learner({"name": "deep_svdd", "rep_dim": 8}, data.info, MLP)
    learner.on_fit_start(FitBatches(data.train, 32), lambda x: x, contextlib.nullcontext)
    plain.on_fit_start(FitBatches(data.train, 32), lambda x: x, contextlib.nullcontext)
    assert not torch.equal(learner.project.weight, plain.project.weight)  # the same init, then pretrained
    with torch.no_grad():  # the center is the pretrained network's mean output
        mean = learner.eval().embed(data.train.x).mean(0)
    torch.testing.assert_close(learner.center, torch.where(mean.abs() < 0.1, torch.where(mean < 0, -0.1, 0.1), mean),
                               rtol=1e-4, atol=1e-5)
    state = {k: v.clone() for k, v in learner.state_dict().items()}
    assert set(state) == set(plain.state_dict())  # no decoder weights in the learner
    learner.on_fit_start(FitBatches(data.train, 32), lambda x: x, contextlib.nullcontext)  # a resume: nothing again
    assert all(torch.equal(state[k], v) for k, v in learner.state_dict().items())
    export_model(learner, data.info, spec, MLP, tmp_path / "model")
    again, _ = load_model(tmp_path / "model")
    with torch.no_grad():
        torch.testing.assert_close(again.score_samples(data.val.x), learner.score_samples(data.val.x))


def test_pretraining_in_the_trainer_and_its_errors() -> None:
    data = _vectors()
    learner = build_learner({"name": "deep_svdd", "rep_dim": 8, "pretrain_epochs": 2}, data.info, MLP)
    Trainer(TrainingConfig(epochs=1, batch_size=32, progress="none", precision="fp32")).fit(learner, data)
    assert bool(learner.center_set)
    broken = build_learner({"name": "deep_svdd", "rep_dim": 8, "pretrain_epochs": 2}, data.info, MLP)
    with pytest.raises(TrainingError, match="pretraining at epoch 1: expected a finite"):
        broken.on_fit_start(FitBatches(data.train, 32), lambda x: x * float("nan"), contextlib.nullcontext)
    for bad in ({"pretrain_epochs": -1}, {"pretrain_epochs": 1.5}, {"pretrain_lr": 0}):
        with pytest.raises(ConfigError, match="pretrain_"):
            build_learner({"name": "deep_svdd", **bad}, data.info, MLP)
