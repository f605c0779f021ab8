"""Your own ``nn.Module`` as a deepfeat encoder: passed in Python, or registered by name for YAML and the CLI.

Any module mapping ``(B, *input_shape)`` to ``(B, D)`` works. It is wrapped in a :class:`ModuleEncoder`,
which gives it what every learner relies on (``input_shape``, ``feature_dim``, ``config``, the input
check), inferring ``feature_dim`` with one dry forward pass when the module does not declare it.

    @deepfeat.register_encoder("my_net")          # then `encoder: {name: my_net, width: 64}` in YAML
    class MyNet(nn.Module):
        def __init__(self, width: int = 32): ...

    deepfeat.fit({"encoder": MyNet(width=64), ...}, data=(X, y))    # or an instance / class, in Python

A registered module is rebuilt by name when its run is loaded (exports record the name and arguments);
one passed only as a Python object trains, evaluates and embeds in its process, and its run loads later
with the module passed again (``deepfeat.load(run, encoder=MyNet)``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from deepfeat.errors import ConfigError
from deepfeat.nn.encoder import ENCODERS, PYTHON, Encoder, ModuleEncoder, construct

def register_encoder(name: str, *, description: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a module class or factory as encoder ``name``, usable from YAML and the CLI by that name.

    Its keyword arguments become the config keys (``encoder: {name: <name>, **kwargs}``); it may take
    ``input_shape`` first. The class or factory is returned unchanged.
    """
    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        own = [p for p in inspect.signature(factory).parameters.values() if p.name not in ("self", "input_shape")]

        @functools.wraps(factory)
        def build(input_shape: Sequence[int], **kwargs: Any) -> ModuleEncoder:
            return ModuleEncoder(construct(factory, input_shape, kwargs), input_shape, name, **kwargs)

        shape = inspect.Parameter("input_shape", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        build.__signature__ = inspect.Signature([shape, *own])  # type: ignore[attr-defined]
        ENCODERS.add(name, build, description=description or (inspect.getdoc(factory) or "").split("\n")[0])
        return factory

    return deco


@ENCODERS.register(PYTHON, description="a module passed as a Python object (register it to rebuild by name)")
def _python_object(input_shape: Sequence[int], **config: Any) -> Encoder:
    """What loading a run trained on an unregistered module finds: the fix, not a half-built model."""
    label = config.get("class", "a Python module")
    raise ConfigError(f"encoder 'python' at encoder: the run was trained with {label} passed as a Python object, which "
                      "a config cannot rebuild. Pass it again when loading or resuming the run, in Python: "
                      "deepfeat.load(RUN, encoder=<that module>) or deepfeat.resume(RUN, encoder=<that module>); or "
                      "register it (@deepfeat.register_encoder('my_net')) and train with encoder: {name: my_net}, which "
                      "the CLI rebuilds by name.")
