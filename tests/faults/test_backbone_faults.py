"""Offline pretrained backbones: the local cache first, then one clear ConfigError, without a minute of hub retries."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import torch

from deepfeat.errors import ConfigError
from deepfeat.nn.backbones import BackboneEncoder

PROXIES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture
def no_network(monkeypatch) -> None:
    """Every connection attempt fails at once, as on a machine without network."""
    def refuse(*args, **kwargs):
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in PROXIES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch) -> Path:
    """An empty Hugging Face cache (huggingface_hub reads its settings at import: patch the module's)."""
    from huggingface_hub import constants

    cache = tmp_path / "hf"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return cache


def _assert_how_to_supply(message: str, source: str, cache: str) -> None:
    assert message.startswith(f"pretrained weights for '{source}' at encoder.source: expected a local copy or the hub")
    assert "set encoder.weights: <file>" in message and cache in message and "encoder.pretrained: false" in message
    assert "\n" not in message


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_timm_offline_mode_fails_at_once_with_how_to_supply_weights(monkeypatch, hf_cache, no_network, variable) -> None:
    pytest.importorskip("timm")
    from huggingface_hub import constants

    monkeypatch.setenv(variable, "1")
    with pytest.raises(ConfigError) as err:
        BackboneEncoder((3, 32, 32), "timm:test_resnet.r160_in1k")
    _assert_how_to_supply(str(err.value), "timm:test_resnet.r160_in1k", "Hugging Face cache")
    assert f"not in the Hugging Face cache, and {variable} is set" in str(err.value)
    assert constants.HF_HUB_OFFLINE is False  # the cache-only switch is put back


def test_timm_unreachable_hub_fails_with_how_to_supply_weights(monkeypatch, hf_cache, no_network) -> None:
    pytest.importorskip("timm")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    with pytest.raises(ConfigError) as err:
        BackboneEncoder((3, 32, 32), "timm:test_resnet.r160_in1k")
    _assert_how_to_supply(str(err.value), "timm:test_resnet.r160_in1k", str(hf_cache))
    assert "huggingface.co cannot be reached: Network is unreachable" in str(err.value)


def test_timm_weights_in_the_hugging_face_cache_load_offline(monkeypatch, hf_cache, no_network) -> None:
    timm = pytest.importorskip("timm")
    from safetensors.torch import save_file

    reference = timm.create_model("test_resnet.r160_in1k", pretrained=False)
    commit = "0" * 40  # the cache layout huggingface_hub writes: refs/main names a snapshot folder
    repo = hf_cache / "models--timm--test_resnet.r160_in1k"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()},
              str(repo / "snapshots" / commit / "model.safetensors"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = BackboneEncoder((3, 32, 32), "timm:test_resnet.r160_in1k")
    loaded = dict(encoder.model.named_parameters())
    for name, value in reference.named_parameters():
        if name in loaded:
            torch.testing.assert_close(loaded[name], value, rtol=0, atol=0)
    assert len(loaded) == len(list(reference.named_parameters())) - 2  # all but the removed classifier


def test_torchvision_without_cache_or_network_fails_with_how_to_supply_weights(tmp_path, monkeypatch,
                                                                               no_network) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(ConfigError) as err:
        BackboneEncoder((3, 32, 32), "torchvision:resnet18")
    _assert_how_to_supply(str(err.value), "torchvision:resnet18", str(tmp_path / "hub" / "checkpoints"))
    assert "download.pytorch.org cannot be reached: Network is unreachable" in str(err.value)
