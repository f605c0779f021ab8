"""``deepfeat --import MODULE``: bring the user's own encoders, learners and datasets into the registries."""

from __future__ import annotations

from typing import Any

from deepfeat.errors import ConfigError


def import_user_module(spec: str) -> Any:
    """Import ``spec``, a module name (found from the current folder too) or a ``.py`` file, so its decorators register
    its encoders, learners and datasets; a ConfigError saying what was tried when it cannot be imported."""
    import importlib
    import importlib.util
    import os
    import sys

    try:
        if spec.endswith(".py") or os.sep in spec:
            path = os.path.abspath(spec)
            if not os.path.isfile(path):
                raise ConfigError(f"--import {spec}: no such file ({path}). Give a module name or a .py file.")
            name = os.path.splitext(os.path.basename(path))[0]
            loader = importlib.util.spec_from_file_location(name, path)
            if loader is None or loader.loader is None:
                raise ConfigError(f"--import {spec}: not a Python file.")
            module = importlib.util.module_from_spec(loader)
            sys.modules[name] = module
            loader.loader.exec_module(module)
            return module
        if os.getcwd() not in sys.path and "" not in sys.path:  # `python -c` finds modules here; a console script not
            sys.path.insert(0, os.getcwd())
        return importlib.import_module(spec)
    except ConfigError:
        raise
    except ModuleNotFoundError as e:
        if e.name and spec.split(".")[0] == e.name.split(".")[0]:
            raise ConfigError(f"--import {spec}: no module named '{e.name}' here or on the Python path. Run from the "
                              f"folder that holds {spec.split('.')[0]}.py, or give the file's path.") from None
        raise ConfigError(f"--import {spec}: importing it failed: {type(e).__name__}: {e}") from None
    except Exception as e:  # noqa: BLE001 -- the user's module raised: name it and the error
        raise ConfigError(f"--import {spec}: importing it failed: {type(e).__name__}: {e}") from None
