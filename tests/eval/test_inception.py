"""Standard FID/KID with local Inception-v3 weights: files shaped like the real ones, random weights.

No weights can be downloaded here, so torchvision's inception_v3 (random init) stands in, saved as a
torchvision state dict and converted to the shape of torch-fidelity's FID file (fc of 1008 classes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deepfeat.data.bundle import from_arrays
from deepfeat.engine.device import resolve_precision
from deepfeat.errors import ConfigError
from deepfeat.config import Config
from deepfeat.run.evaluations.generative import generative, inception_features
from deepfeat.run.registries import RunContext
from deepfeat.learners.build import build_learner

pytest.importorskip("torch_fidelity")
torchvision = pytest.importorskip("torchvision")


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A torchvision inception_v3 state dict (with AuxLogits) and the same trunk in the FID file's shape."""
    torch.manual_seed(0)
    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    state = net.state_dict()
    folder = tmp_path_factory.mktemp("inception")
    torch.save(state, folder / "inception_v3_torchvision.pth")
    fid = {k: v for k, v in state.items() if not k.startswith("AuxLogits.")}
    fid["fc.weight"], fid["fc.bias"] = torch.randn(1008, 2048), torch.randn(1008)
    torch.save(fid, folder / "pt_inception-like.pth")
    return {"torchvision": folder / "inception_v3_torchvision.pth", "fid": folder / "pt_inception-like.pth"}


def _images(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_both_weight_files_load_give_the_same_2048_d_trunk_features_and_say_which_they_are(weights) -> None:
    x = _images(2, 0)
    tv_f, tv_label = inception_features(x, str(weights["torchvision"]))
    fid_f, fid_label = inception_features(x, str(weights["fid"]))
    assert tv_f.shape == (2, 2048) and np.isfinite(tv_f).all()
    assert not np.allclose(tv_f[0], tv_f[1])  # the features depend on the image
    np.testing.assert_allclose(tv_f, fid_f, rtol=1e-5, atol=1e-6)  # the fc is never used for pool3
    assert "torchvision weights" in tv_label and "not comparable to papers" in tv_label
    assert "FID weights" in fid_label and "comparable to papers" in fid_label and "not" not in fid_label


def test_generative_evaluation_adds_inception_metrics_with_the_extractor_label(weights) -> None:
    data = from_arrays(_images(4, 1).numpy(), kind="image", val_fraction=0.0, test_fraction=0.0)  # unlabelled
    gan = build_learner({"name": "dcgan"}, data.info, {"name": "cnn", "channels": [8], "norm": "layer"})
    precision = resolve_precision("fp32", torch.device("cpu"), gan)
    gen = generative(RunContext(gan, data, precision, Config()), samples=4, inception_weights=str(weights["torchvision"]))
    assert gen["fid_inception"] > 0 and np.isfinite(gen["kid_inception"])
    assert "torchvision weights" in gen["settings"]["inception_features"]
    assert gen["settings"]["inception_weights"] == str(weights["torchvision"])
    assert "fid_domain" not in gen  # no labels: no domain classifier


def test_a_file_that_is_not_an_inception_state_dict_is_a_config_error(tmp_path) -> None:
    torch.save({"fc.weight": torch.zeros(10, 64)}, tmp_path / "other.pth")
    with pytest.raises(ConfigError, match=r"Inception-v3 state dict .*got \(10, 64\)"):
        inception_features(_images(1, 0), str(tmp_path / "other.pth"))
    with pytest.raises(ConfigError, match="file not found"):
        inception_features(_images(1, 0), str(tmp_path / "missing.pth"))
