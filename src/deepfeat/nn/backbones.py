"""Pretrained backbones as encoders: a deepfeat run or exported model, a timm or a torchvision model.

``{name: backbone, source: runs/mnist-cnn}`` reuses the encoder of a deepfeat run;
``source: timm:resnet18`` and ``source: torchvision:resnet18`` build those libraries' models with
their classifier removed. Pretrained weights come from a local file (``weights: path``, a state dict
as .safetensors or .pt) or, when online, from the library's hub. The encoder adapts its input to
the backbone: channels (1 -> 3 by repetition, 3 -> 1 by averaging), spatial size (bilinear resize
of images, linear resize of sequences) and, with ``input_norm: backbone``, the backbone's own
normalization of [0, 1] inputs. ``lr_blocks()`` lists the backbone's blocks from input to output
for layer-wise learning rates and partial fine-tuning (Yosinski et al. 2014, "How transferable are
features in deep neural networks?").
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from deepfeat.errors import CheckpointError, ConfigError
from deepfeat.extras import load
from deepfeat.nn.encoder import ENCODERS, Encoder
from deepfeat.registry import Registry

# ImageNet statistics: what timm and torchvision models expect after scaling pixels to [0, 1].
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_NORMS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)
_HEAD_NAMES = ("fc", "classifier", "head", "heads")


def module_blocks(module: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """The blocks of ``module`` from input to output, as ``(dotted name, module)``.

    Sequential/ModuleList containers and single-child wrappers are opened; a norm layer or a
    parameter-free module joins the block before it (a conv and its batch norm move together).
    Every parameter belongs to exactly one block.
    """
    blocks: list[tuple[str, list[nn.Module]]] = []
    for name, child in _leaves(module, prefix):
        params = any(True for _ in child.parameters())
        joins = isinstance(child, _NORMS) or not params
        if blocks and joins:
            blocks[-1][1].append(child)
        elif params:
            blocks.append((name, [child]))
    return [(name, parts[0] if len(parts) == 1 else nn.ModuleList(parts)) for name, parts in blocks]


def _leaves(module: nn.Module, prefix: str) -> list[tuple[str, nn.Module]]:
    out = []
    for name, child in module.named_children():
        path = f"{prefix}.{name}" if prefix else name
        own = any(True for _ in child.parameters(recurse=False))
        opens = isinstance(child, (nn.Sequential, nn.ModuleList)) or (len(list(child.children())) == 1 and not own)
        out += _leaves(child, path) if opens else [(path, child)]
    return out


def read_weights(path: str | Path, where: str) -> dict[str, torch.Tensor]:
    """A state dict from a ``.safetensors`` file or a ``torch.save``'d ``.pt``/``.pth`` (tensors only)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"weights file at {where}: expected a file, got {path} (not found). Check the path.")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-line error
        raise CheckpointError(f"weights file {path} at {where}: expected a state dict, could not read it ({e})") from None
    state = state.get("state_dict", state.get("model", state)) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"weights file {path} at {where}: expected a state dict of tensors, got {type(state).__name__}. "
                              "Save it with torch.save(model.state_dict(), path).")
    return state


def load_into(model: nn.Module, state: dict[str, torch.Tensor], head: str | None, where: str) -> None:
    """Load ``state`` into ``model``; only the removed classifier ``head``'s keys may be left over."""
    if head is not None:
        state = {k: v for k, v in state.items() if k.split(".")[0] != head}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:
        raise CheckpointError(f"weights at {where}: expected tensors of the model's shapes, got {str(e).splitlines()[-1].strip()}. "
                              "Check that the file was saved from the same architecture.") from None
    if missing or unexpected:
        raise CheckpointError(
            f"weights at {where}: expected the keys of the model, got {len(missing)} missing "
            f"({', '.join(missing[:3])}) and {len(unexpected)} unexpected ({', '.join(unexpected[:3])}). "
            "Check that the file was saved from the same architecture."
        )


def _no_weights(source: str, tried: str, hint: str, cache: str) -> ConfigError:
    return ConfigError(
        f"pretrained weights for '{source}' at encoder.source: expected a local copy or the hub, got neither ({tried}). "
        f"Save the state dict where the hub is reachable ({hint}), copy the file here and set encoder.weights: <file>; "
        f"or fill the {cache} here; or set encoder.pretrained: false to start from random weights."
    )


def _truthy(variable: str) -> bool:
    return os.environ.get(variable, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _unreachable(url: str, timeout: float = 3.0) -> str | None:
    """Why ``url``'s host cannot be used now (None when it answers): hubs retry for about a minute offline.

    Behind a proxy only the proxy reaches the host, so the library is left to try.
    """
    import socket
    import threading
    from urllib.parse import urlparse

    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    parts = urlparse(url)
    host = parts.hostname or url
    failure: list[str | None] = [f"no answer within {timeout:g} s"]

    def probe() -> None:
        try:
            socket.create_connection((host, parts.port or 443), timeout=timeout).close()
            failure[0] = None
        except OSError as e:
            failure[0] = e.strerror or str(e)

    # A thread bounds the DNS lookup too, which create_connection's timeout does not cover.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return None if failure[0] is None else f"{host} cannot be reached: {failure[0]}"


@contextlib.contextmanager
def _hf_cache_only() -> Iterator[None]:
    """Hugging Face hub calls inside answer from the local cache only, at once, without requests or retries.

    huggingface_hub reads HF_HUB_OFFLINE once, at import, so its module constant is switched instead.
    """
    from huggingface_hub import constants

    was = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = was


def _timm_cached(timm: Any, name: str) -> nn.Module | None:
    """timm's pretrained ``name`` from the Hugging Face cache alone; None when it is not there."""
    try:
        with _hf_cache_only():
            return timm.create_model(name, pretrained=True, num_classes=0)
    except Exception:  # noqa: BLE001 - not cached, or the cache is unusable: the hub is tried next
        return None


def _timm_pretrained(timm: Any, name: str) -> nn.Module:
    """timm's pretrained ``name``: from the Hugging Face cache, else one hub attempt unless offline."""
    from huggingface_hub import constants

    cached = _timm_cached(timm, name)
    if cached is not None:
        return cached
    args = (f"timm:{name}", f"torch.save(timm.create_model('{name}', pretrained=True).state_dict(), '{name}.pt')",
            f"Hugging Face cache ({constants.HF_HUB_CACHE})")
    offline = next((f"{v} is set" for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") if _truthy(v)), None)
    offline = offline or _unreachable(constants.ENDPOINT)
    if offline:
        raise _no_weights(args[0], f"not in the Hugging Face cache, and {offline}", *args[1:]) from None
    try:
        return timm.create_model(name, pretrained=True, num_classes=0)
    except Exception as e:  # noqa: BLE001 - network and cache errors come in many types
        raise _no_weights(args[0], f"the Hugging Face hub failed: {str(e).splitlines()[0][:160]}", *args[1:]) from None


def _timm(name: str, pretrained: bool, weights: str | None) -> tuple[nn.Module, dict[str, Any]]:
    timm = load("timm", "transfer", f"encoder source 'timm:{name}'")
    if not timm.is_model(name.split(".")[0]):
        raise ConfigError(f"encoder source 'timm:{name}': expected a timm model name, got {name!r}. "
                          "See timm.list_models() for the names.")
    if pretrained and weights is None:
        model = _timm_pretrained(timm, name)
    else:
        model = timm.create_model(name, pretrained=False, num_classes=0)
    cfg = model.pretrained_cfg
    if weights is not None and pretrained:
        load_into(model, read_weights(weights, "encoder.weights"), cfg.get("classifier"), "encoder.weights")
    size = cfg.get("input_size", (3, 224, 224))
    return model, {"channels": size[0], "size": size[1:], "mean": cfg.get("mean", IMAGENET_MEAN), "std": cfg.get("std", IMAGENET_STD)}


def _torchvision_pretrained(models: Any, name: str) -> nn.Module:
    """torchvision's pretrained ``name``: from torch's hub cache, else one download unless the host is unreachable."""
    url = models.get_model_weights(name).DEFAULT.url
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    hint = f"torch.save(torchvision.models.get_model('{name}', weights='DEFAULT').state_dict(), '{name}.pt')"
    args = (f"torchvision:{name}", hint, f"torch hub cache ({cached.parent})")
    offline = None if cached.is_file() else _unreachable(url)
    if offline:
        raise _no_weights(args[0], f"the torchvision download failed: not in the torch hub cache, and {offline}", *args[1:])
    try:
        return models.get_model(name, weights="DEFAULT")
    except Exception as e:  # noqa: BLE001 - network and cache errors come in many types
        raise _no_weights(args[0], f"the torchvision download failed: {str(e).splitlines()[0][:160]}", *args[1:]) from None


def _torchvision(name: str, pretrained: bool, weights: str | None) -> tuple[nn.Module, dict[str, Any]]:
    from torchvision import models

    if name not in models.list_models():
        raise ConfigError(f"encoder source 'torchvision:{name}': expected a torchvision model name, got {name!r}. "
                          "See torchvision.models.list_models() for the names.")
    if pretrained and weights is None:
        model = _torchvision_pretrained(models, name)
    else:
        model = models.get_model(name, weights=None)
    head = next((h for h in _HEAD_NAMES if isinstance(getattr(model, h, None), nn.Module)), None)
    if head is not None:
        setattr(model, head, nn.Identity())  # the saved classifier, of any size, is left out when loading
    if weights is not None and pretrained:
        load_into(model, read_weights(weights, "encoder.weights"), head, "encoder.weights")
    return model, {"channels": 3, "size": (224, 224), "mean": IMAGENET_MEAN, "std": IMAGENET_STD}


def _split_source(source: str) -> tuple[str, str]:
    kind, sep, name = source.partition(":")
    if sep and kind.lower() in SOURCES:
        return kind.lower(), name
    return "folder", source


# Where pretrained networks come from: ``name -> loader(name, pretrained, weights) -> (module, expects)``.
# ``expects`` describes the input the network was trained on (channels, size, mean, std; for a network whose
# input cannot be resized, ``fixed_shape``, its ``shape`` and an ``example`` batch of it in its dtype). timm and torchvision register here; the run layer registers ``folder``
# (a deepfeat run or exported model), which needs the learner registry above this floor. A source's ``meta`` may hold
# ``data_needs(name) -> dict``: what the data must be for its network (see Encoder.data_needs); without it the
# network takes the data as it comes (images are resized and normalized by the encoder itself).
SOURCES: Registry[Any] = Registry("backbone source", takes=3)
SOURCES.add("timm", _timm, description="a timm model name: timm:<name>")
SOURCES.add("torchvision", _torchvision, description="a torchvision model name: torchvision:<name>")


class BackboneEncoder(Encoder):
    """A pretrained network as an encoder: ``(B, *input_shape) -> adapt -> backbone -> (B, feature_dim)``.

    ``source``: ``timm:<model>``, ``torchvision:<model>``, or a deepfeat run / exported model folder.
    ``weights``: a local state-dict file (offline use); ``pretrained: false`` keeps random weights.
    ``image_size``: the side the input is resized to (default: the backbone's own input size).
    ``input_norm``: ``data`` when inputs are already standardized per channel (deepfeat's default,
    which is what a normalized backbone saw in training), ``backbone`` to apply the backbone's own
    mean/std to inputs in [0, 1] (use with ``data: {normalize: false}``).
    """

    name = "backbone"

    def __init__(
        self,
        input_shape: Sequence[int],
        source: str = "timm:resnet18",
        pretrained: bool = True,
        weights: str | None = None,
        image_size: int | None = None,
        input_norm: Literal["data", "backbone"] = "data",
    ) -> None:
        super().__init__()
        self._setup(input_shape, None, source=source, pretrained=pretrained, weights=weights,
                    image_size=image_size, input_norm=input_norm)
        kind, name = _split_source(source)
        self.model, expects = SOURCES.get(kind, "encoder.source")(name, pretrained, weights)
        self.fixed = bool(expects.get("fixed_shape"))
        if self.fixed and tuple(expects["shape"]) != self.input_shape:
            raise ConfigError(f"input_shape of the backbone encoder: expected {tuple(expects['shape'])} (what '{source}' "
                              f"was trained on), got {self.input_shape}. Its inputs cannot be resized.")
        self.channels = int(expects["channels"])
        self.size = tuple(expects["size"]) if image_size is None or len(expects["size"]) != 2 else (image_size, image_size)
        self._check_channels(source)
        stats = expects["mean"] is not None and input_norm == "backbone"
        self.register_buffer("mean", torch.tensor(expects["mean"] if stats else [0.0]), persistent=False)
        self.register_buffer("std", torch.tensor(expects["std"] if stats else [1.0]), persistent=False)
        with torch.no_grad():
            was = self.model.training
            example = expects["example"] if self.fixed else torch.zeros(1, *self.input_shape)
            probe = self.model.eval()(self.adapt(example))
            self.model.train(was)
        self.feature_dim = int(probe.flatten(1).shape[1])

    @classmethod
    def data_needs(cls, source: str = "timm:resnet18", **spec: Any) -> dict[str, Any]:
        """What the source's network needs of the data (a text run's tokenizer), read without loading it."""
        kind, name = _split_source(source)
        needs = (SOURCES.meta(kind, "encoder.source") or {}).get("data_needs") if kind in SOURCES else None
        return needs(name) if needs is not None else {}

    def _check_channels(self, source: str) -> None:
        c = self.input_shape[0]
        if self.fixed or c == self.channels or 1 in (c, self.channels):
            return
        raise ConfigError(f"input_shape of the backbone encoder: expected {self.channels} channels (or 1) for '{source}', "
                          f"got {c}. Only 1 <-> {self.channels} channel adaptation is automatic.")

    def adapt(self, x: torch.Tensor) -> torch.Tensor:
        """Channels, size and normalization of ``x (B, *input_shape)`` as the backbone expects them."""
        if self.fixed:
            return x
        if x.shape[1] != self.channels:
            x = x.expand(-1, self.channels, *x.shape[2:]) if x.shape[1] == 1 else x.mean(1, keepdim=True)
        if tuple(x.shape[2:]) != self.size:
            mode = "bilinear" if x.dim() == 4 else "linear"
            x = F.interpolate(x, size=self.size, mode=mode, align_corners=False)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return (x - self.mean.view(shape)) / self.std.view(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, *input_shape) -> (B, feature_dim)``."""
        self.check_input(x)
        return self.model(self.adapt(x)).flatten(1)

    def lr_blocks(self) -> list[tuple[str, nn.Module]]:
        """The backbone's blocks, input to output (see :func:`module_blocks`)."""
        return module_blocks(self.model, "model")


ENCODERS.add("backbone", BackboneEncoder)
