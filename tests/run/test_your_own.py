"""Your own model and data: an nn.Module (instance, class, registered name) on arrays in memory, and embedding
raw samples with the run's own normalization."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

import deepfeat
from deepfeat.errors import ConfigError, DataError

DIGITS = load_digits()
X = (DIGITS.images / 16.0)[:, None].astype(np.float32)  # (1797, 1, 8, 8), pixels in [0, 1]
Y = DIGITS.target
QUICK = {"training": {"epochs": 8, "batch_size": 64, "progress": "none"}, "optimizer": {"name": "adam", "lr": 3e-3},
         "evaluation": {"embedding_plots": [], "protocol": ["knn"], "knn_k": [5]}, "logging": {"plots": False}}


class SmallCNN(nn.Module):
    """A user's network: no feature_dim declared, so deepfeat infers it (width * 4) with a dry forward pass."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@pytest.mark.parametrize("as_instance", [True, False], ids=["instance", "class"])
def test_a_module_trains_on_arrays_in_memory_and_embeds_raw_samples(as_instance: bool, tmp_path: Path) -> None:
    encoder = SmallCNN(width=16) if as_instance else SmallCNN  # built here: seeded by the fixture, not at collection
    cfg = {**QUICK, "training": {**QUICK["training"], "epochs": 12}, "encoder": encoder}
    run = deepfeat.fit(cfg, data=(X, Y), out=tmp_path / "run")
    assert run.config.data["name"] == "in_memory" and run.config.encoder["name"] == "python"
    assert run.results["test"]["test/acc"] > 0.75  # measured 0.84 (instance) and 0.86 (class); chance is 0.1
    assert run.learner.feature_dim == 64
    z = run.embed(X[:10])  # raw pixels: the run normalizes them itself
    expected = run.learner.eval().embed(run.info.normalize(torch.from_numpy(X[:10]))).detach().numpy()
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run.transform(torch.from_numpy(X[0])), z[:1], rtol=1e-5, atol=1e-6)  # one sample
    np.testing.assert_array_equal(deepfeat.embed(run, X[:10]), z)  # an array in, an array back
    with pytest.raises(DataError, match=r"expected shape \(N, 1, 8, 8\)"):
        run.embed(X[:2, :, :4])
    with pytest.raises(ConfigError, match=r"deepfeat.load\(RUN, encoder=.*register_encoder"):  # not by name
        deepfeat.load(run.dir)
    again = deepfeat.load(run.dir, encoder=SmallCNN(width=16) if as_instance else SmallCNN)  # the module again
    np.testing.assert_allclose(again.embed(X[:10]), z, rtol=1e-5, atol=1e-6)


def test_a_registered_module_is_used_by_name_and_its_run_loads_back(tmp_path: Path, isolated_registries) -> None:
    deepfeat.register_encoder("test_small_cnn")(SmallCNN)
    cfg = {**QUICK, "encoder": {"name": "test_small_cnn", "width": 8}}
    run = deepfeat.fit(cfg, data=(X, Y), out=tmp_path / "run")
    again = deepfeat.load(run.dir)
    assert again.config.encoder == {"name": "test_small_cnn", "width": 8} and again.learner.feature_dim == 32
    np.testing.assert_array_equal(again.embed(X[:5]), run.embed(X[:5]))
    with pytest.raises(ConfigError, match="Did you mean 'width'"):
        deepfeat.fit({**cfg, "encoder": {"name": "test_small_cnn", "widht": 8}}, data=(X, Y), out=tmp_path / "typo")


def test_a_module_passed_again_must_be_one_for_a_run_that_was_trained_with_one(tmp_path: Path) -> None:
    cfg = {**QUICK, "training": {**QUICK["training"], "epochs": 1}}
    named = deepfeat.fit({**cfg, "encoder": {"name": "mlp", "hidden": [8]}}, data=(X, Y), out=tmp_path / "named")
    with pytest.raises(ConfigError, match="encoder 'mlp' is rebuilt by name. Leave encoder= out"):
        deepfeat.load(named.dir, encoder=SmallCNN)
    python = deepfeat.fit({**cfg, "encoder": SmallCNN}, data=(X, Y), out=tmp_path / "python")
    with pytest.raises(ConfigError, match="expected an nn.Module .instance, class or factory., got str 'mlp'"):
        deepfeat.load(python.dir, encoder="mlp")
    with pytest.raises(ConfigError, match="expected the module the run was trained with, got .SmallCNN., which is another"):
        deepfeat.load(python.dir, encoder=SmallCNN(width=4))  # another module than the one trained
    assert deepfeat.evaluate(python.dir, data=(X, Y), encoder=SmallCNN)["test"] == pytest.approx(python.results.test, abs=0.01)


def test_a_run_naming_an_unregistered_module_says_to_import_it(tmp_path: Path, isolated_registries) -> None:
    from deepfeat.nn.encoder import ENCODERS

    deepfeat.register_encoder("tv_resnet18")(SmallCNN)  # a name close to a built-in's (resnet1d)
    cfg = {**QUICK, "training": {**QUICK["training"], "epochs": 1}, "encoder": {"name": "tv_resnet18", "width": 4}}
    run = deepfeat.fit(cfg, data=(X, Y), out=tmp_path / "run")
    del ENCODERS._entries["tv_resnet18"]  # a new process that did not import the module registering it
    fix = (r"encoder 'tv_resnet18' at .*config.yaml: expected it registered, .* import the module that registers it "
           r"first \(in Python, or `deepfeat --import MODULE ...` on the command line\)")
    with pytest.raises(ConfigError, match=fix) as caught:
        deepfeat.load(run.dir)
    assert "Did you mean" not in str(caught.value) and "damaged" not in str(caught.value)
    with pytest.raises(ConfigError, match=r"encoder 'tv_resnet18' at .*model.json: expected it registered"):
        deepfeat.run.model_io.load_model(run.dir / "model")


def test_a_run_on_arrays_resumes_and_re_evaluates_with_the_same_arrays(tmp_path: Path) -> None:
    cfg = {**QUICK, "encoder": {"name": "mlp", "hidden": [32]}, "training": {**QUICK["training"], "epochs": 2}}
    whole = deepfeat.fit(cfg, data=(X, Y), test=(X[:200], Y[:200]), out=tmp_path / "whole")
    assert whole.results["test"]["test/acc"] > 0.5 and whole.results["evaluations"]["knn"]["settings"]["eval_samples"] == 200
    with pytest.raises(DataError, match="pass them again"):
        deepfeat.evaluate(whole.dir)
    again = deepfeat.evaluate(whole.dir, data=(X, Y), test=(X[:200], Y[:200]))
    assert again["test"] == pytest.approx(whole.results["test"])

    class Stop(deepfeat.engine.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        deepfeat.fit(cfg, data=(X, Y), test=(X[:200], Y[:200]), out=tmp_path / "cut", callbacks=[Stop()])
    resumed = deepfeat.resume(tmp_path / "cut", data=(X, Y), test=(X[:200], Y[:200]))
    assert resumed.results["test"] == pytest.approx(whole.results["test"])  # the same split, the same weights


class DigitsDataset(torch.utils.data.Dataset):
    """A user's map-style dataset of (x, y) samples, without a ``targets`` attribute (labels read in one pass)."""

    def __len__(self) -> int:
        return len(Y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(X[i]), int(Y[i])


def test_a_torch_dataset_is_streamed_split_and_normalized_like_the_same_arrays(tmp_path: Path) -> None:
    from deepfeat.data.splits import StreamSplit
    from deepfeat.run.runs import in_memory_config, load_data

    cfg = deepfeat.load_config({**QUICK, "encoder": {"name": "cnn", "channels": [16]}})
    streamed = load_data(in_memory_config(cfg), DigitsDataset())
    arrays = load_data(in_memory_config(cfg), (X, Y))
    assert isinstance(streamed.train, StreamSplit)  # read batch by batch, not copied into a tensor
    assert [len(s) for s in streamed.splits().values()] == [len(s) for s in arrays.splits().values()]
    assert streamed.info.num_classes == 10 and streamed.info.input_shape == (1, 8, 8)
    assert streamed.info.mean == pytest.approx(arrays.info.mean, abs=0.01)  # stats from 512 sampled images
    x, _ = next(streamed.train.batches(512))
    assert abs(float(x.mean())) < 0.1 and abs(float(x.std()) - 1) < 0.1  # normalized as it streams
    run = deepfeat.fit({**QUICK, "encoder": {"name": "cnn", "channels": [16]}}, data=DigitsDataset(), out=tmp_path / "ds")
    assert run.results["evaluations"]["knn"]["accuracy"] > 0.8


class _Stop(deepfeat.engine.Callback):
    """Interrupts a fit at the end of its first epoch, as Ctrl-C would."""

    def on_epoch_end(self, trainer, epoch, logs):
        raise KeyboardInterrupt


def test_a_run_of_a_module_passed_in_python_resumes_with_the_module_again(tmp_path: Path) -> None:
    cfg = {**QUICK, "encoder": SmallCNN, "training": {**QUICK["training"], "epochs": 2}}
    with pytest.raises(KeyboardInterrupt):
        deepfeat.fit(cfg, data=(X, Y), out=tmp_path / "cut", callbacks=[_Stop()])
    with pytest.raises(ConfigError, match=r"deepfeat.resume\(RUN, encoder="):
        deepfeat.resume(tmp_path / "cut", data=(X, Y))
    resumed = deepfeat.resume(tmp_path / "cut", data=(X, Y), encoder=SmallCNN)
    assert resumed.results["fit"]["epochs"] == 2 and resumed.learner.feature_dim == 64


def test_resume_refuses_a_module_for_a_run_whose_encoder_is_rebuilt_by_name(tmp_path: Path) -> None:
    cfg = {**QUICK, "encoder": {"name": "mlp", "hidden": [8]}, "training": {**QUICK["training"], "epochs": 2}}
    with pytest.raises(KeyboardInterrupt):
        deepfeat.fit(cfg, data=(X, Y), out=tmp_path / "cut", callbacks=[_Stop()])
    with pytest.raises(ConfigError, match="rebuilt by name"):
        deepfeat.resume(tmp_path / "cut", data=(X, Y), encoder=SmallCNN)


def test_arrays_in_python_keep_the_kind_and_class_names_the_config_gives() -> None:
    from deepfeat.run.runs import in_memory_config, load_data

    ids = np.random.default_rng(0).integers(1, 20, (40, 10))  # token ids: numbers that would pass as a table
    cfg = deepfeat.load_config({"data": {"name": "in_memory", "kind": "tokens", "class_names": ["ham", "spam"],
                                         "test_fraction": 0.25}})
    data = load_data(in_memory_config(cfg), (ids, np.arange(40) % 2))
    assert data.info.kind == "tokens" and data.info.class_names == ["ham", "spam"] and len(data.test) == 10
