"""The encoder contract and registry.

An encoder is an ``nn.Module`` with ``feature_dim: int`` whose forward maps ``(B, *input_shape)`` to
``(B, feature_dim)`` (timm's ``num_features``). Every encoder factory takes ``input_shape`` as its first
positional argument, checks the shape of what it is fed (a :class:`DataError` that says what was
expected instead of a deep torch error), and records its arguments in ``config`` so
``build_encoder(encoder.config, encoder.input_shape)`` rebuilds the same architecture from JSON
(arguments given as Python objects, such as an activation module, are kept as they are and do not
serialize).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from deepfeat.errors import ConfigError, DataError
from deepfeat.nn.activations import split_activation
from deepfeat.registry import Registry

ENCODERS: Registry[nn.Module] = Registry("encoder", takes=1)


def build_encoder(spec: Any, input_shape: Sequence[int], where: str = "encoder") -> nn.Module:
    """An encoder for samples of shape ``input_shape`` from a name or ``{name, ...}`` spec."""
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise ConfigError(
            f"input_shape at {where}: expected a list of sizes such as (1, 28, 28), got {input_shape!r}"
        ) from None
    module = module_encoder(spec, shape)
    if module is not None:  # the user's own nn.Module (instance, class or factory), as Keras' get() takes
        return module
    if isinstance(spec, Mapping) and isinstance(spec.get("activation"), (str, Mapping)):
        # Checked here, where its config key is known; the encoders' own layers would report it as "activation".
        split_activation(spec["activation"], f"{where}.activation")
    return ENCODERS.build(spec, shape, where=where)


def data_needs(spec: Any) -> dict[str, Any]:
    """What the data must be for the encoder ``spec`` (:meth:`Encoder.data_needs` of its registered class); ``{}``
    for a user's module or a factory that is not an :class:`Encoder` class."""
    if not isinstance(spec, (str, Mapping)):
        return {}
    name, kwargs = ENCODERS.split_spec(spec, "encoder")
    made = ENCODERS.get(name, "encoder.name")
    return made.data_needs(**kwargs) if isinstance(made, type) and issubclass(made, Encoder) else {}


def jsonable(value: Any) -> Any:
    """``value`` with tuples turned into lists (recursively), as it reads back from JSON/YAML."""
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    return value


class Encoder(nn.Module):
    """Abstract base of every encoder: input check and config; never instantiated itself.

    Subclasses call :meth:`_setup` in ``__init__`` and :meth:`check_input` first in ``forward``.
    """

    name: str
    input_shape: tuple[int, ...]
    feature_dim: int
    config: dict[str, Any]
    # Whether the encoder computes correctly on channels_last (NHWC-strided) images, which the trainer picks
    # for conv nets where it is faster (engine.device). deepfeat's own encoders reshape, never view, so they do.
    channels_last_ok: bool = True

    def _setup(self, input_shape: Sequence[int], layout: str | None, **kwargs: Any) -> None:
        """Validate ``input_shape`` against ``layout`` (e.g. ``"(C, H, W)"``) and record the config."""
        shape = tuple(int(d) for d in input_shape)
        expected = None if layout is None else layout.count(",") + 1
        if (expected is not None and len(shape) != expected) or not shape or min(shape) < 1:
            raise ConfigError(
                f"input_shape of the {self.name} encoder: expected {layout or 'positive sizes'}, "
                f"got {shape}. Pick an encoder that fits the data (mlp: any, cnn: (C, H, W), "
                "series (C, T): inception, fcn, resnet1d, tcn, gru/lstm)."
            )
        self.input_shape = shape
        self.config = {"name": self.name, **jsonable(kwargs)}

    @classmethod
    def data_needs(cls, **spec: Any) -> dict[str, Any]:
        """What the data must be for this encoder built with ``spec``, known without building it: ``{"tokenizer":
        {...}}`` for a network pretrained on token ids, the tokenizer (vocabulary included) that made them. The run
        reads its texts with it (:func:`data_needs`); ``{}`` (the default): the encoder takes the data as it comes."""
        return {}

    def mirror_decoder(self, code_dim: int) -> nn.Module | None:
        """The decoder ``(B, code_dim) -> (B, *input_shape)`` that mirrors this encoder, for autoencoders and VAEs.

        An encoder with a mirror of its own overrides this next to its definition; ``None`` (the default) gives
        the MLP decoder of :meth:`mlp_mirror` (:func:`deepfeat.nn.decoders.build_decoder`).
        """
        return None

    def mlp_mirror(self) -> dict[str, Any]:
        """The hidden widths, activation and norm of an MLP decoder for this encoder: widths (128, 256) unless the
        encoder has widths of its own to reverse, and the encoder's activation and norm.

        An encoder's ``norm`` is a norm spec for most encoders, but a switch for some (the audio encoder's
        front-end norm: true/false): only a spec carries over to the decoder.
        """
        norm = self.config.get("norm", "none")
        return {"hidden": (128, 256), "activation": self.config.get("activation", "relu"),
                "norm": norm if isinstance(norm, (str, Mapping)) else "none"}

    def check_input(self, x: torch.Tensor) -> None:
        """Raise :class:`DataError` unless ``x`` has shape ``(B, *input_shape)``."""
        if x.shape[1:] != self.input_shape:
            raise DataError(
                f"input to the {self.name} encoder: expected shape "
                f"(B, {', '.join(map(str, self.input_shape))}), got {tuple(x.shape)}. Build the encoder with input_shape={tuple(x.shape[1:])} "
                "or reshape the batch (images are (B, C, H, W), sequences (B, C, T))."
            )


PYTHON = "python"  # the encoder name a run records for a module passed as a Python object


class ModuleEncoder(Encoder):
    """A user's module as an encoder: ``(B, *input_shape) -> module -> (B, feature_dim)``."""

    def __init__(self, module: nn.Module, input_shape: Sequence[int], name: str = PYTHON, **config: Any) -> None:
        super().__init__()
        self.name = name
        self._setup(input_shape, None, **config)
        if name == PYTHON:
            self.config["class"] = f"{type(module).__module__}.{type(module).__qualname__}"
        self.module = module
        self.feature_dim = _feature_dim(module, self.input_shape, self.config["class"] if name == PYTHON else name)
        self.channels_last_ok = _takes_channels_last(module, self.input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.module(x)


def _dry_run(module: nn.Module, x: torch.Tensor) -> Any:
    """``module(x)`` in eval mode without gradients, the module's training mode restored afterwards."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return module(x)
    finally:
        module.train(was_training)


def _feature_dim(module: nn.Module, input_shape: tuple[int, ...], label: str) -> int:
    """The module's declared ``feature_dim``, else the width of one dry forward pass (eval mode, no grad)."""
    declared = getattr(module, "feature_dim", None)  # an optional attribute of user code, as timm's num_features
    if isinstance(declared, int) and declared > 0:
        return declared
    try:
        out = _dry_run(module, torch.zeros(2, *input_shape))
    except Exception as e:  # noqa: BLE001 -- the user's module: say which input it could not take
        raise ConfigError(f"encoder {label}: expected a module that takes a batch (B, {', '.join(map(str, input_shape))}), "
                          f"got an error on a dry run: {type(e).__name__}: {e}") from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(f"encoder {label}: expected features of shape (B, D) from a batch of 2, got {shape}. "
                          "Flatten or pool the module's output (e.g. end it with nn.Flatten()).")
    return int(out.shape[1])


def _takes_channels_last(module: nn.Module, input_shape: tuple[int, ...]) -> bool:
    """Whether a user's image module runs on a channels_last batch: ``x.view(B, -1)`` after a convolution, common
    in hand-written nets, raises on one. A dry run (weights channels_last as the trainer puts them, then back)
    finds out, so such a module trains in the default memory format instead of failing at its first step."""
    if len(input_shape) != 3 or not any(p.dim() == 4 for p in module.parameters()):
        return True
    module.to(memory_format=torch.channels_last)
    try:
        _dry_run(module, torch.zeros(2, *input_shape).contiguous(memory_format=torch.channels_last))
    except RuntimeError:
        return False
    finally:
        module.to(memory_format=torch.contiguous_format)
    return True


def channels_last_ok(model: nn.Module) -> bool:
    """True unless an encoder inside ``model`` cannot take channels_last images (see :class:`ModuleEncoder`)."""
    return all(m.channels_last_ok for m in model.modules() if isinstance(m, Encoder))


def module_encoder(spec: Any, input_shape: Sequence[int]) -> ModuleEncoder | None:
    """``spec`` as an encoder when it is a Python object (an ``nn.Module`` instance, class or factory), else ``None``."""
    if isinstance(spec, nn.Module):
        return spec if isinstance(spec, Encoder) else ModuleEncoder(spec, input_shape)
    if callable(spec):  # a class or a factory
        return ModuleEncoder(construct(spec, input_shape, {}), input_shape)
    return None


def construct(factory: Callable[..., Any], input_shape: Sequence[int], kwargs: dict[str, Any]) -> nn.Module:
    """``factory(input_shape, **kwargs)`` when it takes ``input_shape``, else ``factory(**kwargs)``; an ``nn.Module``."""
    takes_shape = "input_shape" in inspect.signature(factory).parameters
    module = factory(tuple(input_shape), **kwargs) if takes_shape else factory(**kwargs)
    if not isinstance(module, nn.Module):
        raise ConfigError(f"encoder factory {getattr(factory, '__name__', factory)!r}: expected it to return an "
                          f"nn.Module, got {type(module).__name__}")
    return module
