"""Autoencoders, denoising, sparse, contractive and VAE learners: quality on digits and oracle checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

import deepfeat
from deepfeat.run import apply as anomaly
from deepfeat.cli import main
from deepfeat.data.bundle import from_arrays
from deepfeat.data.datasets import load_dataset
from deepfeat.data.noise import build_noise
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import ConfigError, DataError
from deepfeat.eval.reconstruction import psnr
from deepfeat.learners.build import build_learner
from deepfeat.learners.contractive import jacobian_frobenius
from deepfeat.learners.sparse import kl_sparsity
from deepfeat.learners.vae import gaussian_kl

MLP = {"name": "mlp", "hidden": [256, 128]}


FAST = {"batch_size": 64, "progress": "none", "restore_best": False}


def _train(spec: dict, data, epochs: int):
    learner = build_learner(spec, data.info, MLP)
    Trainer(TrainingConfig(epochs=epochs, **FAST), seed=0).fit(learner, data, optimizer={"name": "adam", "lr": 2e-3})
    return learner.eval()


def _raw(learner, x: torch.Tensor) -> np.ndarray:
    return learner.scale.to_raw(x).numpy()


def test_autoencoder_beats_pca_at_same_code_size() -> None:
    data = load_dataset("digits")
    learner = _train({"name": "autoencoder", "code_dim": 8}, data, epochs=40)
    train, test = _raw(learner, data.train.x), _raw(learner, data.test.x)
    with torch.no_grad():
        recon = _raw(learner, learner.reconstruct(data.test.x))
    pca = PCA(8).fit(train.reshape(len(train), -1))
    pca_recon = pca.inverse_transform(pca.transform(test.reshape(len(test), -1)))
    ae_mse, pca_mse = np.mean((recon - test) ** 2), np.mean((pca_recon - test.reshape(len(test), -1)) ** 2)
    assert ae_mse < 0.8 * pca_mse, (ae_mse, pca_mse)


def test_denoising_raises_psnr_by_4db_at_sigma_half() -> None:
    data = load_dataset("digits")
    learner = _train({"name": "denoising", "code_dim": 32, "noise": {"name": "gaussian", "sigma": 0.5}}, data, epochs=40)
    clean = _raw(learner, data.test.x)
    noisy = clean + 0.5 * np.random.default_rng(0).standard_normal(clean.shape)
    with torch.no_grad():
        denoised = _raw(learner, learner.reconstruct(learner.scale.from_raw(torch.as_tensor(noisy, dtype=torch.float32))))
    mean_image = np.broadcast_to(_raw(learner, data.train.x).mean(0), clean.shape)
    assert psnr(clean, noisy) == pytest.approx(6.0, abs=0.3)
    assert psnr(clean, denoised) >= psnr(clean, noisy) + 4.0
    # A trivial denoiser (the mean training image) already gains several dB; the model must beat it clearly.
    assert psnr(clean, denoised) >= psnr(clean, mean_image) + 2.0


def test_one_class_digits_roc_auc_threshold_and_score_cli(tmp_path) -> None:
    cfg = {"name": "one-class", "data": {"name": "digits", "normal_classes": [0]}, "encoder": MLP,
           "learner": {"name": "autoencoder", "code_dim": 8}, "optimizer": {"name": "adam", "lr": 2e-3},
           "training": {"epochs": 60, "batch_size": 32, "progress": "none"},
           "evaluation": {"protocol": ["knn"], "embedding_plots": []}, "logging": {"report": False}}
    run = deepfeat.fit(cfg, out=tmp_path / "run")
    result = run.results["evaluations"]["anomaly"]
    assert result["roc_auc"] >= 0.9 and result["settings"]["normal_classes"] == [0]
    assert {"reconstructions.png", "anomaly_scores.png", "roc_curve.png"} <= {p.name for p in run.paths.plots.iterdir()}
    # The stored threshold is reused by a loaded run: no retraining, same decisions.
    loaded = deepfeat.load(run.dir)
    x, y = anomaly.load_raw("digits")
    scores = anomaly.anomaly_score(loaded, x)
    assert roc_auc_score(y != 0, scores) >= 0.9
    np.testing.assert_array_equal(anomaly.predict_anomaly(loaded, x), scores > result["threshold"])
    assert main(["score", str(run.dir), "--data", "digits", "--out", str(tmp_path / "s.csv"),
                              "--contamination", "0.4"]) == 0
    table = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 1], scores, rtol=1e-5)  # id, score, anomaly, label
    # Re-calibrated as the 60% quantile of clean validation 0s: a lower threshold, stored for later calls.
    stored = json.loads(run.paths.results.read_text())["evaluations"]["anomaly"]
    assert stored["settings"]["method"] == "contamination" and stored["threshold"] < result["threshold"]
    np.testing.assert_array_equal(table[:, 2], scores > stored["threshold"])


def test_normal_classes_keep_test_whole_and_normalize_on_normal_data() -> None:
    data = load_dataset("digits", normal_classes=[0, 1], score_heldout=False)
    assert set(data.train.y.unique().tolist()) == {0, 1} and set(data.val.y.unique().tolist()) == {0, 1}
    assert len(data.test.y.unique()) == 10
    raw = data.train.x * torch.tensor(data.info.std).view(1, -1, 1, 1) + torch.tensor(data.info.mean).view(1, -1, 1, 1)
    assert raw.mean().item() == pytest.approx(data.info.mean[0], abs=1e-5)
    with pytest.raises(ConfigError, match="normal_classes"):
        load_dataset("digits", normal_classes=[10])


def test_vae_kl_matches_closed_form_of_torch_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    expected = torch.distributions.kl_divergence(q, p).sum(1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected)
    assert torch.all(gaussian_kl(torch.zeros(2, 4), torch.zeros(2, 4)) == 0)


def test_vae_metrics_sampling_and_interpolation() -> None:
    data = from_arrays(torch.rand(32, 1, 8, 8).numpy(), kind="image", val_fraction=0.0, test_fraction=0.0)
    vae = build_learner({"name": "vae", "code_dim": 3, "likelihood": "bernoulli"}, data.info, MLP).eval()
    x = data.train.x[:6]
    out = vae.validation_step((x, None))
    assert out["elbo"] == pytest.approx(-(out["nll"] + out["kl"]).item(), rel=1e-5)
    assert torch.equal(vae.embed(x), vae.encode(x)[0])
    drawn = vae.sample(4, seed=0)
    assert drawn.shape == (4, 1, 8, 8) and torch.equal(drawn, vae.sample(4, seed=0))  # data space, seeded
    path = vae.interpolate(x[:2], x[2:4], steps=5)
    assert path.shape == (2, 5, 1, 8, 8)
    torch.testing.assert_close(path[:, 0], vae.reconstruct(x[:2]))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        vae.training_step((x * 3 + 2, None))


def test_contractive_penalty_is_unbiased_for_the_jacobian_norm() -> None:
    w = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
    x = torch.randn(1, 6, requires_grad=True)
    code = torch.tanh(x @ w.T)
    exact = torch.autograd.functional.jacobian(lambda v: torch.tanh(v @ w.T), x).pow(2).sum()
    estimate = torch.stack([jacobian_frobenius(x, code) for _ in range(4000)]).mean()
    assert estimate.item() == pytest.approx(exact.item(), rel=0.08)


def test_kl_sparsity_matches_bernoulli_kl() -> None:
    code = torch.rand(16, 5, generator=torch.Generator().manual_seed(0))
    rho = code.mean(0)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Bernoulli(torch.full((5,), 0.05)), torch.distributions.Bernoulli(rho)).sum()
    torch.testing.assert_close(kl_sparsity(code, 0.05), expected)


@pytest.mark.parametrize("spec", [{"name": "gaussian", "sigma": 0.5}, {"name": "masking", "p": 0.3},
                                  {"name": "salt_and_pepper", "p": 0.2}])
def test_noise_strength_and_fresh_draws(spec: dict) -> None:
    x = torch.full((200, 64), 0.5)
    noise = build_noise(spec)
    a, b = noise(x), noise(x)
    assert not torch.equal(a, b)  # a fresh corruption every call (every batch)
    changed = (a != x).float().mean().item()
    if spec["name"] == "gaussian":
        assert (a - x).std().item() == pytest.approx(0.5, rel=0.05)
    else:
        assert changed == pytest.approx(spec["p"], abs=0.02)
    if spec["name"] == "salt_and_pepper":
        assert set(a[a != x].unique().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("name", ["autoencoder", "denoising", "sparse", "contractive", "vae"])
@pytest.mark.parametrize("encoder,shape", [({"name": "lstm", "hidden_size": 8}, (2, 12)),
                                           ({"name": "tcn", "channels": [8, 8]}, (2, 12)),
                                           ({"name": "mlp", "hidden": [16]}, (5,))])
def test_every_autoencoder_reconstructs_sequences_and_vectors(name: str, encoder: dict, shape: tuple) -> None:
    data = from_arrays(torch.rand(16, *shape).numpy(), kind="vector" if len(shape) == 1 else "sequence",
                       val_fraction=0.0, test_fraction=0.0)
    learner = build_learner({"name": name, "code_dim": 3}, data.info, encoder)
    x = data.train.x
    out = learner.update((x, None), learner.configure_optimizers({"name": "adam"}), deepfeat.learners.StepContext())
    assert torch.isfinite(out["loss"])
    with torch.no_grad():
        assert learner.reconstruct(x).shape == x.shape and learner.embed(x).shape == (16, 3)
        assert learner.score_samples(x).shape == (16,)


def test_unknown_likelihood_and_noise_fail_with_suggestions() -> None:
    info = load_dataset("iris").info
    with pytest.raises(ConfigError, match="bernoulli"):
        build_learner({"name": "autoencoder", "likelihood": "bernouli"}, info, "mlp")
    with pytest.raises(ConfigError, match="Did you mean 'gaussian'"):
        build_learner({"name": "denoising", "noise": {"name": "gausian"}}, info, "mlp")


def test_the_denoising_autoencoder_declares_on_its_class_and_autoencoder_with_noise_resolves_to_it(caplog) -> None:
    from deepfeat.config import load_config
    from deepfeat.learners.autoencoder import Autoencoder
    from deepfeat.learners.build import declared_by
    from deepfeat.learners.denoising import DenoisingAutoencoder

    holder = declared_by("dae")  # read from the registry entry, nothing built
    assert holder is DenoisingAutoencoder and "denoises" in holder.capabilities and "denoising" in holder.evaluations
    info = load_dataset("iris").info
    learner = build_learner({"name": "denoising", "noise": {"name": "masking", "p": 0.3}}, info, "mlp")
    assert not {"capabilities", "evaluations", "figures", "headline"} & vars(learner).keys()  # no instance rewrite
    assert learner.can("denoises") and not build_learner("autoencoder", info, "mlp").can("denoises")
    with pytest.raises(ConfigError, match="noise at learner 'autoencoder': expected no noise.*learner: denoising"):
        Autoencoder(info, noise={"name": "gaussian"})
    cfg = load_config({"learner": {"name": "ae", "noise": {"name": "gaussian", "sigma": 0.3}, "decoder": "auto"}})
    assert cfg.learner == {"name": "denoising", "noise": {"name": "gaussian", "sigma": 0.3}, "decoder": "auto"}
    assert "resolved to learner denoising" in caplog.text
