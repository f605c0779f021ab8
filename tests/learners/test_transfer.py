"""Transfer learning: backbones load saved weights exactly, freezing freezes, LRs are discriminative."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from torch import nn

import deepfeat
from deepfeat.data.bundle import from_arrays
from deepfeat.data.datasets import load_dataset
from deepfeat.run.model_io import export_model
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import CheckpointError, ConfigError
from deepfeat.learners.base import StepContext
from deepfeat.learners.build import build_learner
from deepfeat.run.evaluations.low_label import (
    accuracies,
    low_label_accuracy,
    low_label_table,
    save_low_label_figure,
)
from deepfeat.nn.backbones import IMAGENET_MEAN, IMAGENET_STD, BackboneEncoder

SMALL_CNN = {"name": "cnn", "channels": [8, 16]}


def _reference(source: str) -> nn.Module:
    if source.startswith("timm:"):
        timm = pytest.importorskip("timm")
        return timm.create_model("resnet18", pretrained=False, num_classes=10)
    import torchvision

    return torchvision.models.resnet18(num_classes=10)


@pytest.mark.parametrize("source,suffix", [("torchvision:resnet18", ".pt"), ("timm:resnet18", ".safetensors")])
def test_weights_file_gives_identical_features(source: str, suffix: str, tmp_path) -> None:
    reference = _reference(source).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, so a skipped buffer would show
        for m in reference.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    path = tmp_path / f"weights{suffix}"
    if suffix == ".pt":
        torch.save(reference.state_dict(), path)
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    encoder = BackboneEncoder((3, 32, 32), source, weights=str(path), image_size=32, input_norm="backbone").eval()
    x = torch.rand(4, 3, 32, 32)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    reference.fc = nn.Identity()
    with torch.no_grad():
        expected = reference((x - mean) / std)
        got = encoder(x)
    assert encoder.feature_dim == 512
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_missing_weights_say_what_was_tried(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache: torchvision must try the network
    with pytest.raises(ConfigError, match="encoder.weights") as err:
        BackboneEncoder((1, 8, 8), "torchvision:resnet18", pretrained=True)
    assert "torchvision download failed" in str(err.value) and "pretrained: false" in str(err.value)
    with pytest.raises(CheckpointError, match="not found"):
        BackboneEncoder((1, 8, 8), "torchvision:resnet18", weights=str(tmp_path / "missing.pt"))
    with pytest.raises(ConfigError, match="timm:<name>"):
        BackboneEncoder((1, 8, 8), str(tmp_path))


@pytest.mark.parametrize("encoder,shape,kind", [
    ({"name": "mlp", "hidden": [16]}, (12,), "vector"),
    ({"name": "rnn", "hidden_size": 8, "num_layers": 2}, (2, 10), "sequence"),
    (SMALL_CNN, (1, 8, 8), "image"),
    ({"name": "text_tcn", "embed_dim": 8}, (10,), "tokens"),  # token ids: probed and fed as int64, never resized
])
def test_deepfeat_run_as_backbone(encoder, shape, kind, tmp_path) -> None:
    x = torch.randint(0, 30, (40, *shape)) if kind == "tokens" else torch.randn(40, *shape)
    data = from_arrays(x.numpy(), (np.arange(40) % 3), kind=kind, val_fraction=0.0, test_fraction=0.0)
    source = build_learner("classifier", data.info, encoder).eval()
    export_model(source, data.info, "classifier", encoder, tmp_path / "run" / "model")
    learner = build_learner({"name": "transfer", "mode": "partial"}, data.info,
                            {"name": "backbone", "source": str(tmp_path / "run")}).eval()
    with torch.no_grad():
        torch.testing.assert_close(learner.embed(x[:5]), source.embed(x[:5]))
    assert learner.head[-1].out_dim == 3 and learner.trainable_top == 1


def test_input_adaptation_channels_and_size(tmp_path) -> None:
    data = from_arrays(np.random.rand(20, 1, 16, 16), np.arange(20) % 2, kind="image", val_fraction=0.0, test_fraction=0.0)
    export_model(build_learner("classifier", data.info, SMALL_CNN), data.info, "classifier", SMALL_CNN, tmp_path)
    gray = BackboneEncoder((1, 8, 8), str(tmp_path)).eval()
    colour = BackboneEncoder((3, 8, 8), str(tmp_path)).eval()
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():  # a grey image given as three equal channels is averaged back to the same input
        torch.testing.assert_close(colour(x.expand(-1, 3, -1, -1)), gray(x))
    assert gray.adapt(x).shape == (3, 1, 16, 16)


def _partial_learner(mode: str = "partial", **kw):
    data = load_dataset("digits", val_fraction=0.0, test_fraction=0.0)
    learner = build_learner({"name": "transfer", "mode": mode, "trainable_blocks": 1, **kw}, data.info, SMALL_CNN)
    assert len(learner.blocks) == 2  # one block per conv stage
    return learner, data


def test_freezing_really_freezes() -> None:
    learner, data = _partial_learner()
    frozen = dict(learner.frozen_blocks()[0][1].named_buffers()) | dict(learner.frozen_blocks()[0][1].named_parameters())
    before = {k: v.clone() for k, v in frozen.items()}
    top = learner.blocks[-1][1]
    top_before = [p.clone() for p in top.parameters()]
    optimizers = learner.configure_optimizers({"name": "adamw", "lr": 1e-2, "weight_decay": 0.1})
    learner.train()
    for x, y in data.train.batches(64, shuffle=True, generator=torch.Generator().manual_seed(0)):
        learner.update((x, y), optimizers, StepContext())
        assert all(p.grad is None for p in learner.frozen_blocks()[0][1].parameters())
    for name, value in frozen.items():
        assert torch.equal(value, before[name]), name  # weights and batch-norm running statistics
    assert not any(m.training for m in learner.frozen_blocks()[0][1].modules())
    assert all(not torch.equal(p, q) for p, q in zip(top.parameters(), top_before))


def test_discriminative_learning_rates_in_param_groups() -> None:
    learner, _ = _partial_learner("fine_tune", encoder_lr=1.0)
    optimizer = learner.configure_optimizers({"name": "adamw", "lr": 1e-2, "layer_decay": 0.5})[0]
    lrs = {g["name"].split("/")[0]: g["lr"] for g in optimizer.param_groups}
    names = [name for name, _ in learner.lr_blocks()]
    assert list(lrs) == names[::-1]
    for depth, name in enumerate(reversed(names)):
        assert lrs[name] == pytest.approx(1e-2 * 0.5**depth)


def test_gradual_unfreezing_follows_the_schedule() -> None:
    learner, data = _partial_learner("gradual", unfreeze_every=2, trainable_blocks=0, head_epochs=0)
    bottom = [p.clone() for p in learner.blocks[0][1].parameters()]
    seen = []

    class Watch(deepfeat.engine.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            seen.append(learner.trainable_top)

    trainer = Trainer(TrainingConfig(epochs=4, batch_size=256, progress="none", restore_best=False, precision="fp32"),
                      callbacks=[Watch()])
    trainer.fit(learner, data, optimizer={"name": "adam", "lr": 1e-2})
    assert seen == [0, 0, 1, 1]
    assert all(torch.equal(p, q) for p, q in zip(learner.blocks[0][1].parameters(), bottom))  # never unfrozen


def test_low_label_evaluation_table_and_plot(tmp_path) -> None:
    data = load_dataset("digits", test_fraction=0.3)
    options = {"labels_per_class": [1, "all"], "steps": 20, "batch_size": 64, "lr": 1e-2, "repeats": 2}
    result = low_label_accuracy(data, SMALL_CNN, options, build_learner("transfer", data.info, SMALL_CNN))
    assert set(accuracies(result)) == {"scratch", "linear_probe", "fine_tune"}
    for method in accuracies(result).values():
        assert set(method) == {"1", "all"} and all(0.0 <= a <= 1.0 for a in method.values())
    assert result["scratch"]["all"] > 0.6  # all labels, 20 steps: well above chance (0.1)
    assert result["fine_tune"]["all"] > 0.3  # random "pretrained" weights at a tenth of the rate: slower
    assert len(result["draws"]["fine_tune@1"]) == 2 and len(result["draws"]["fine_tune@all"]) == 1
    assert result["scratch"]["1"] == pytest.approx(np.mean(result["draws"]["scratch@1"]), abs=1e-4)
    assert "+-" in low_label_table(result)
    assert "| fine_tune |" in low_label_table(result)
    assert save_low_label_figure(result, tmp_path).is_file()


def test_low_label_retrieval_is_map_at_r_of_the_frozen_features(monkeypatch, tmp_path) -> None:
    from sklearn.neighbors import KNeighborsClassifier

    from deepfeat.run.evaluations import low_label as module

    seen = []
    scorer = module.FROZEN["retrieval"]
    monkeypatch.setitem(module.FROZEN, "retrieval", lambda *args: seen.append(args) or scorer(*args))
    data = load_dataset("digits", test_fraction=0.3)
    result = low_label_accuracy(data, SMALL_CNN, {"labels_per_class": [1], "repeats": 1, "methods": ["retrieval"]},
                                build_learner("transfer", data.info, SMALL_CNN))
    train_z, train_y, test_z, test_y, _, metric = seen[0]
    assert len(train_y) == 10 and len(test_y) == len(data.test) and metric == "cosine"
    # One label per class: R = 1, so MAP@R is the 1-nearest-neighbour accuracy (scikit-learn's as the oracle).
    nearest = KNeighborsClassifier(1, metric="cosine").fit(train_z, train_y).score(test_z, test_y)
    assert result["retrieval"]["1"] == pytest.approx(nearest, abs=1e-4)
    assert "| retrieval |" in low_label_table(result) and save_low_label_figure(result, tmp_path).is_file()


def test_fine_tuning_ends_with_head_statistics_of_the_final_features() -> None:
    """Precise BN: the head's running mean/var are those of the final encoder's training features, not a
    trailing average of features the fine-tuning has since moved away from."""
    learner, data = _partial_learner("fine_tune")
    trainer = Trainer(TrainingConfig(epochs=1, batch_size=64, progress="none", restore_best=False, precision="fp32"))
    trainer.fit(learner, data, optimizer={"name": "adam", "lr": 3e-2})
    learner.eval()
    with torch.no_grad():  # the same batches the recalibration saw; batch norm averages their statistics
        per_batch = [learner.encoder(x) for x, _ in data.train.batches(64) if len(x) > 1]
    norm = learner.head[0]
    torch.testing.assert_close(norm.running_mean, torch.stack([f.mean(0) for f in per_batch]).mean(0),
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(norm.running_var, torch.stack([f.var(0) for f in per_batch]).mean(0),
                               rtol=1e-4, atol=1e-5)
    assert norm.momentum == 0.1 and learner.training is False
    probe, probe_data = _partial_learner("linear_probe")
    before = probe.head[0].running_mean.clone()
    probe.on_fit_end(probe_data.train.batches(64), lambda x: x, contextlib.nullcontext)
    assert torch.equal(probe.head[0].running_mean, before)  # frozen features: nothing to recalibrate


def test_low_label_repeats_give_the_same_draws_to_every_method(monkeypatch) -> None:
    from deepfeat.run.evaluations import low_label as module

    seen: dict[str, list[bytes]] = {}

    def record(method, data, subset, test, encoder, transfer, recipe, precision, cfg, seed):
        seen.setdefault(method, []).append(subset.train.x.numpy().tobytes())
        return float(seed)  # the draw's seed: mean and std are then known in closed form

    monkeypatch.setattr(module, "_run_method", record)
    data = load_dataset("digits", test_fraction=0.3)
    result = low_label_accuracy(data, SMALL_CNN, {"labels_per_class": [2, 5], "repeats": 3, "seed": 7},
                                build_learner("transfer", data.info, SMALL_CNN))
    assert seen["scratch"] == seen["linear_probe"] == seen["fine_tune"]
    assert len(set(seen["fine_tune"])) == 6  # 2 budgets x 3 draws, all different
    assert result["fine_tune"]["5"] == pytest.approx(8.0) and result["std"]["fine_tune@5"] == pytest.approx(np.std([7, 8, 9]), abs=1e-4)
    assert result["draws"]["scratch@2"] == [7.0, 8.0, 9.0]
    assert result["settings"]["repeats"] == 3


def test_lp_ft_trains_the_head_first_then_the_encoder_at_a_smaller_rate() -> None:
    learner, data = _partial_learner("fine_tune", head_epochs=1, encoder_lr=0.1, augment="none")
    optimizer = learner.configure_optimizers({"name": "adamw", "lr": 1e-2})[0]
    encoder_ids = {id(p) for p in learner.encoder.parameters()}
    for group in optimizer.param_groups:
        inside = {id(p) in encoder_ids for p in group["params"]}
        assert len(inside) == 1  # no group mixes encoder and head
        assert group["lr"] == pytest.approx(1e-3 if inside == {True} else 1e-2)
    encoder_before = [p.clone() for p in learner.encoder.parameters()]
    snapshots = []

    class Watch(deepfeat.engine.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            snapshots.append([p.clone() for p in learner.encoder.parameters()])

    trainer = Trainer(TrainingConfig(epochs=2, batch_size=256, progress="none", restore_best=False, precision="fp32"),
                      callbacks=[Watch()])
    trainer.fit(learner, data, optimizer={"name": "adamw", "lr": 1e-2})
    assert all(torch.equal(p, q) for p, q in zip(snapshots[0], encoder_before))  # epoch 1: head only
    assert not all(torch.equal(p, q) for p, q in zip(snapshots[1], encoder_before))  # epoch 2: everything


def test_l2sp_pulls_the_encoder_back_to_the_pretrained_weights() -> None:
    learner, _ = _partial_learner("fine_tune", l2sp=0.5)
    assert learner.l2_sp().item() == 0.0
    weight = learner.blocks[0][1][0].weight if isinstance(learner.blocks[0][1], nn.Sequential) else next(
        p for p in learner.blocks[0][1].parameters() if p.dim() > 1)
    with torch.no_grad():
        weight.add_(0.1)
    penalty = learner.l2_sp()
    assert penalty.item() == pytest.approx(0.01 * weight.numel(), rel=1e-4)
    penalty.backward()
    assert torch.all(weight.grad > 0)  # the gradient step moves the weights back down, towards the anchor
    assert not any("anchor" in k for k in learner.state_dict())  # the anchor is rebuilt, never saved


def test_head_starts_as_the_converged_linear_probe() -> None:
    from deepfeat.eval.probes import linear_probe

    learner, data = _partial_learner("fine_tune", augment="none")
    assert not bool(learner.head_fitted)
    learner.on_fit_start(data.train.batches(128), lambda x: x, contextlib.nullcontext)
    assert bool(learner.head_fitted) and learner.training
    learner.eval()
    with torch.no_grad():
        z = learner.encoder(data.train.x)
        predicted = learner(data.train.x).argmax(1).numpy()
    expected = linear_probe(z, data.train.y, z, data.train.y, return_predictions=True)["predictions"]
    assert np.mean(predicted == expected) > 0.995  # the head is the probe (float32 vs float64 ties aside)
    weight = learner.head[-1].linear.weight.clone()
    learner.on_fit_start(data.train.batches(128), lambda x: x, contextlib.nullcontext)
    assert torch.equal(weight, learner.head[-1].linear.weight)  # once per run: a resume keeps its head
    random_head, _ = _partial_learner("fine_tune", head_init="random")
    random_head.on_fit_start(data.train.batches(128), lambda x: x, contextlib.nullcontext)
    assert not bool(random_head.head_fitted)
    with pytest.raises(ConfigError, match="head_init"):
        _partial_learner("fine_tune", head_init="zeros")


def test_a_wholly_frozen_encoder_runs_in_eval_mode() -> None:
    learner, _ = _partial_learner("linear_probe")
    learner.train()
    assert learner.head.training and not any(m.training for m in learner.encoder.modules())
    learner, _ = _partial_learner("partial")
    learner.train()
    assert learner.encoder.training and learner.blocks[-1][1].training and not learner.blocks[0][1].training


def test_auto_augment_leaves_audio_to_the_audio_encoder() -> None:
    from deepfeat.data.info import DataInfo
    from deepfeat.learners.transfer import auto_augment

    series = DataInfo("sequence", (1, 400), num_classes=2)
    audio = DataInfo("sequence", (1, 400), num_classes=2, reader={"sample_rate": 8000, "duration": 0.05})
    assert auto_augment(series) == {"name": "sequence"}  # jitter, scale and crop for time series
    assert auto_augment(audio) == "none"  # crop-and-resize would change a recording's pitch and tempo
    assert auto_augment(DataInfo("image", (1, 8, 8), num_classes=2))["name"] == "image"


def test_low_label_announces_each_training(monkeypatch) -> None:
    import deepfeat.run.evaluations.low_label as module

    monkeypatch.setattr(module, "_run_method", lambda method, *a, **k: 0.5)
    names: list[str] = []

    @contextlib.contextmanager
    def phase(name: str):
        names.append(name)
        yield

    data = load_dataset("digits", test_fraction=0.3)
    low_label_accuracy(data, SMALL_CNN, {"labels_per_class": [2, "all"], "repeats": 2, "methods": ["scratch", "fine_tune"]},
                       build_learner("transfer", data.info, SMALL_CNN), phase=phase)
    assert names[:2] == ["low_label scratch 2/class draw 1/2", "low_label fine_tune 2/class draw 1/2"]
    assert names[-1] == "low_label fine_tune all/class" and len(names) == 6


def test_weights_saved_before_head_init_load_as_fitted() -> None:
    learner, _ = _partial_learner("fine_tune")
    state = {k: v for k, v in learner.state_dict().items() if k != "head_fitted"}  # a model saved by 0.1
    fresh, _ = _partial_learner("fine_tune")
    fresh.load_state_dict(state)  # strict: no missing key
    assert bool(fresh.head_fitted)


def test_the_low_label_recipe_is_reached_through_the_transfers_capability() -> None:
    from deepfeat.learners.capabilities import Transfers

    learner = build_learner({"name": "transfer", "encoder_lr": 0.5}, load_dataset("digits").info, SMALL_CNN)
    assert learner.can("transfers") and isinstance(learner, Transfers)
    recipe = learner.recipe({"name": "transfer", "mode": "partial", "encoder_lr": 0.5, "trainable_blocks": 2})
    assert recipe == {"encoder_lr": 0.5}  # the mode and the blocks are each re-run's own
    assert learner.recipe_spec("linear_probe", recipe) == {"name": "transfer", "mode": "linear_probe", "encoder_lr": 0.5}
    assert learner.recipe_spec("fine_tune", recipe, seed=3, head_epochs=2) == {
        "name": "transfer", "mode": "fine_tune", "encoder_lr": 0.5, "head_epochs": 2, "seed": 3}
    assert learner.recipe_spec("scratch", recipe, seed=3, head_epochs=2) == {
        "name": "transfer", "mode": "fine_tune", "encoder_lr": 1.0, "l2sp": 0.0, "head_init": "random",
        "head_epochs": 0, "seed": 3}
