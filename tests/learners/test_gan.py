"""GAN learners: losses and gradient penalty against closed forms, generators, the update, sampling, runs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import deepfeat
from deepfeat.data.bundle import from_arrays
from deepfeat.run.model_io import export_model, load_model
from deepfeat.errors import ConfigError
from deepfeat.learners.base import StepContext
from deepfeat.learners.build import build_learner
from deepfeat.learners.gan_losses import discriminator_loss, generator_loss, gradient_penalty
from deepfeat.nn.generators import ConvGenerator, MLPGenerator
from deepfeat.run.observers import GANMonitor, milestones

CRITIC = {"name": "cnn", "channels": [8, 16], "norm": "layer"}


def _digits_like(n: int = 64, classes: int = 4):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 8, 8, generator=g)
    return from_arrays(x.numpy(), (torch.arange(n) % classes).numpy(), kind="image", val_fraction=0.0, test_fraction=0.0)


# -- losses and the penalty --------------------------------------------------------------------
REAL, FAKE = torch.tensor([2.0, -0.5, 0.3]), torch.tensor([-1.0, 0.7, 1.5])


def test_non_saturating_losses_match_the_cross_entropy_written_out() -> None:
    sig = torch.sigmoid
    d = -(torch.log(sig(REAL)).mean() + torch.log(1 - sig(FAKE)).mean())
    g = -torch.log(sig(FAKE)).mean()
    torch.testing.assert_close(discriminator_loss("non_saturating", REAL, FAKE), d)
    torch.testing.assert_close(generator_loss("non_saturating", FAKE), g)


def test_hinge_and_wasserstein_losses_by_hand() -> None:
    d_hinge = (max(0, 1 - 2.0) + max(0, 1 + 0.5) + max(0, 1 - 0.3)) / 3 + (max(0, 1 - 1.0) + 1.7 + 2.5) / 3
    assert discriminator_loss("hinge", REAL, FAKE).item() == pytest.approx(d_hinge)
    assert generator_loss("hinge", FAKE).item() == pytest.approx(-(-1.0 + 0.7 + 1.5) / 3)
    assert discriminator_loss("wasserstein", REAL, FAKE).item() == pytest.approx(1.2 / 3 - 1.8 / 3)


def test_gradient_penalty_of_a_linear_critic_is_closed_form() -> None:
    # D(x) = <w, x> has gradient w everywhere: the penalty is (||w|| - 1)^2 and d/dw = 2 (||w|| - 1) w / ||w||.
    w = torch.tensor([3.0, 4.0, 0.0, 0.0], requires_grad=True)
    real, fake = torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2)
    gp = gradient_penalty(lambda x: x.flatten(1) @ w, real, fake)
    assert gp.item() == pytest.approx(16.0)
    gp.backward()
    torch.testing.assert_close(w.grad, 2 * (5.0 - 1) * w.detach() / 5.0)


def test_gradient_penalty_of_a_quadratic_critic_matches_numpy() -> None:
    # D(x) = ||x||^2 / 2 has gradient x: the penalty is mean((||x_hat|| - 1)^2) at the interpolates.
    real, fake, eps = torch.randn(6, 3), torch.randn(6, 3), torch.rand(6)
    gp = gradient_penalty(lambda x: 0.5 * (x**2).sum(1), real, fake, eps)
    r, f, e = real.numpy(), fake.numpy(), eps.numpy()[:, None]
    expected = np.mean((np.linalg.norm(e * r + (1 - e) * f, axis=1) - 1) ** 2)
    assert gp.item() == pytest.approx(expected, rel=1e-5)


# -- generators -------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (1, 30, 22)])
def test_conv_generator_makes_any_image_size_in_tanh_range(shape) -> None:
    gen = ConvGenerator(16, shape, channels=(32, 16), num_classes=3)
    x = gen(torch.randn(4, 16), torch.eye(3)[[0, 1, 2, 0]])
    assert x.shape == (4, *shape)
    assert x.abs().max() <= 1.0


def test_mlp_generator_shape() -> None:
    assert MLPGenerator(8, (13,), hidden=(32,))(torch.randn(5, 8)).shape == (5, 13)


# -- the learner -------------------------------------------------------------------------------
def test_wgan_gp_rejects_a_batch_norm_critic_and_conditional_needs_labels() -> None:
    info = _digits_like().info
    with pytest.raises(ConfigError, match="batch norm"):
        build_learner("wgan_gp", info, {"name": "cnn", "channels": [8], "norm": "batch"})
    unlabelled = from_arrays(np.random.rand(20, 1, 8, 8), kind="image", val_fraction=0, test_fraction=0).info
    with pytest.raises(ConfigError, match="labelled"):
        build_learner({"name": "dcgan", "conditional": True}, unlabelled, CRITIC)


def test_optimizers_get_gan_betas_unless_given() -> None:
    info = _digits_like().info
    d, g = build_learner("dcgan", info, CRITIC).configure_optimizers({"name": "adam", "lr": 2e-4})
    assert d.param_groups[0]["betas"] == (0.5, 0.999) and g.param_groups[0]["betas"] == (0.5, 0.999)
    wgan = build_learner("wgan_gp", info, CRITIC)
    assert wgan.configure_optimizers("adam")[0].param_groups[0]["betas"] == (0.5, 0.9)
    assert wgan.configure_optimizers({"name": "adam", "betas": [0.0, 0.99]})[1].param_groups[0]["betas"] == (0.0, 0.99)
    critic_params = {id(p) for group in d.param_groups for p in group["params"]}
    assert not critic_params & {id(p) for p in build_learner("dcgan", info, CRITIC).generator.parameters()}


def test_n_critic_steps_the_generator_every_nth_update_and_ema_follows() -> None:
    data = _digits_like()
    gan = build_learner({"name": "wgan_gp", "n_critic": 2, "ema_decay": 0.9}, data.info, CRITIC)
    opts = gan.configure_optimizers({"name": "adam", "lr": 1e-2})
    batches = list(data.train.batches(16))
    before = [p.detach().clone() for p in gan.generator.parameters()]
    m = gan.update(batches[0], opts, StepContext())
    assert all(torch.equal(a, b) for a, b in zip(before, gan.generator.parameters()))
    assert m["gp"] >= 0 and float(m["skipped"]) == 0
    gan.update(batches[1], opts, StepContext())
    assert not all(torch.equal(a, b) for a, b in zip(before, gan.generator.parameters()))
    # Warm-up decay after one generator step is min(0.9, 2 / 11): the average moved most of the way.
    ema, live = next(gan.generator_ema.parameters()), next(gan.generator.parameters())
    assert not torch.equal(ema, live) and not torch.equal(ema, before[0])


def test_fixed_noise_and_samples_survive_export(tmp_path) -> None:
    data = _digits_like()
    spec = {"name": "dcgan", "conditional": True, "spectral_norm": True, "latent_dim": 8, "generator_channels": [16, 8],
            "num_fixed": 12}
    gan = build_learner(spec, data.info, CRITIC)
    gan.update(next(data.train.batches(16)), gan.configure_optimizers("adam"), StepContext())
    export_model(gan, data.info, spec, CRITIC, tmp_path)
    again, _ = load_model(tmp_path)
    torch.testing.assert_close(again.fixed_z, gan.fixed_z)
    torch.testing.assert_close(again.fixed_samples(), gan.fixed_samples())
    x_real = next(data.train.batches(8))[0]
    torch.testing.assert_close(again.embed(x_real), gan.eval().embed(x_real))  # spectral norm's u, v travel too
    x = again.sample(10, labels=torch.arange(10) % 4, seed=3)
    assert x.shape == (10, 1, 8, 8) and 0 <= x.min() and x.max() <= 1
    torch.testing.assert_close(x, again.sample(10, labels=torch.arange(10) % 4, seed=3))
    assert again.interpolate(steps=5, paths=2).shape == (2, 5, 1, 8, 8)


def test_monitor_warns_on_a_winning_critic_exploding_generator_and_collapse(tmp_path) -> None:
    gan = build_learner("dcgan", _digits_like().info, CRITIC)
    monitor = GANMonitor(gan, tmp_path)
    monitor.real_diversity = 4.0
    monitor._check(1, {"train/d_loss": 1.2, "train/g_loss": 1.0}, div=0.5, last=False)
    assert monitor.warnings == {}  # a fresh generator has no diversity yet: not a collapse
    monitor._check(2, {"train/d_loss": 0.9, "train/g_loss": 1.1}, div=3.0, last=False)
    monitor._check(3, {"train/d_loss": 0.01, "train/g_loss": 9.0}, div=0.4, last=False)
    assert set(monitor.warnings) == {"discriminator_wins", "generator_diverges", "mode_collapse"}
    summary = monitor.summary()
    assert summary["count"] == 3 and "from epoch 3" in summary["mode_collapse"]
    assert milestones(60) >= {1, 60} and len(milestones(60)) == 10 and milestones(3) == {1, 2, 3}


# -- a real run: digits -------------------------------------------------------------------------
# An MLP GAN learns 8x8 digits in a few hundred steps (a conv GAN needs several times longer on 2 cores).
DIGITS_GAN = {
    "data": {"name": "digits", "val_fraction": 0.1, "test_fraction": 0.2},
    "encoder": {"name": "mlp", "hidden": [256, 128], "activation": {"name": "leaky_relu", "negative_slope": 0.2}},
    "learner": {"name": "mlp_gan", "latent_dim": 32, "ema_decay": 0.99},
    "optimizer": {"name": "adam", "lr": 1e-3},
    "training": {"epochs": 25, "batch_size": 32, "restore_best": False, "progress": "none"},
    "evaluation": {"embedding_plots": [], "protocol": ["knn"]},
}
@pytest.mark.slow
def test_gan_on_digits_covers_the_classes_and_writes_its_run(tmp_path) -> None:
    from sklearn.datasets import load_digits
    from sklearn.svm import SVC

    run = deepfeat.fit(DIGITS_GAN, out=tmp_path / "run")
    digits = load_digits()
    judge = SVC().fit(digits.data / 16.0, digits.target)  # an independent digits classifier
    assert judge.score(digits.data / 16.0, digits.target) > 0.95
    samples = run.learner.sample(500, seed=0).reshape(500, -1).numpy()
    counts = np.bincount(judge.predict(samples), minlength=10)
    assert (counts >= 5).sum() >= 8, counts
    gen = run.results["evaluations"]["generative"]
    assert gen["settings"]["features"].startswith("domain FID") and gen["classes_covered"] >= 8
    assert math.isfinite(gen["fid_domain"]) and 0 <= gen["precision"] <= 1
    saved = json.loads((run.dir / "results.json").read_text())["evaluations"]
    assert "gan_monitor" in saved and (run.dir / "samples" / "epoch_001.png").is_file()
    names = {e["name"] for e in json.loads((run.dir / "plots" / "index.json").read_text())}
    assert {"samples", "samples_by_epoch", "interpolation"} <= names


def test_each_schedule_counts_its_own_optimizer_steps() -> None:
    """With n_critic=2 the generator steps every other batch: its schedule spans those steps, without PyTorch's warning."""
    import warnings

    from deepfeat.engine.trainer import Trainer, TrainingConfig

    data = _digits_like()
    gan = build_learner({"name": "wgan_gp", "n_critic": 2}, data.info, CRITIC)
    trainer = Trainer(TrainingConfig(epochs=3, batch_size=16, progress="none", restore_best=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Detected call of lr_scheduler.step() before optimizer.step()"
        trainer.fit(gan, data, optimizer={"name": "adam", "lr": 1e-3}, schedule="cosine")
    critic, generator = trainer.schedulers
    assert (critic.per_step.last_epoch, generator.per_step.last_epoch) == (12, 6)
    assert critic.lr == generator.lr == 0.0  # both cosines ran to their end
