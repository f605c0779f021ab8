"""Reading a YAML file into its top-level mapping, with one-line errors naming the file.

It imports nothing but PyYAML, so the command line can refuse a missing or malformed config at once, before
the library (and torch with it) is imported to validate what the file says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from deepfeat.errors import ConfigError


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML file's top-level mapping, with errors that name the file.

    Read with ``yaml.safe_load``: tags such as ``!!python/object`` are refused, so a config can never
    build objects or run code.
    """
    if not path.is_file():
        raise ConfigError(f"config file {path}: not found. Check the path (relative paths are from {Path.cwd()}).")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.constructor.ConstructorError as e:
        raise ConfigError(f"config file {path}: expected plain YAML data, got {_yaml_problem(e)}. Tags such as "
                          "!!python/object are refused (configs never build objects); write the value as plain data.") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path}: not valid YAML ({_yaml_problem(e)}). Fix the file there.") from None
    if raw is None:
        raise ConfigError(f"config file {path} is empty: expected sections such as data, encoder, learner, optimizer, "
                          "training. Start from a file in examples/configs, or write {} to use every default.")
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path}: expected a mapping of sections, got {type(raw).__name__}")
    return raw


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: the problem and where it is."""
    problem = getattr(error, "problem", None)
    mark = getattr(error, "problem_mark", None)
    if problem is None:
        return " ".join(str(error).split())
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else str(problem)
