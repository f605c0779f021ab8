"""The JSON Schema of a config file (``deepfeat config schema``), derived from the config schema and the registries,
so editors complete and check YAML configs with what the library itself accepts.

The fixed sections come from their declared keys (:mod:`deepfeat.schema`); each ``{name: ...}`` section gives
``name`` as the registered names (and aliases) and, per name, its arguments read from the factory's signature and
docstrings (:mod:`deepfeat.arguments`), beside the keys the library reads there itself (``data.val_fraction``).
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping

from deepfeat.arguments import defaults, meanings_of
from deepfeat.registry import Registry
from deepfeat.typecheck import hints

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a deepfeat config, with every registered name of every kind."""
    from deepfeat import __version__
    from deepfeat.cli.reference import import_every_kind
    from deepfeat.config import SECTION_KEYS, SPECS, Config, fixed_sections
    from deepfeat.schema import json_schema

    import_every_kind()
    top = json_schema(Config)
    top.pop("$defs", None)  # the fixed sections' own schemas replace pydantic's references to them
    properties = top["properties"]
    for name, cls in fixed_sections().items():
        properties[name] = {**json_schema(cls), "description": properties[name]["description"]}
    for section, registry in SPECS.items():
        also = json_schema(SECTION_KEYS[section])["properties"] if section in SECTION_KEYS else {}
        properties[section] = {"description": properties[section]["description"], **spec_schema(registry, also)}
    _name_the_evaluations(properties["evaluation"]["properties"])
    return {"$schema": DRAFT, **top, "title": f"deepfeat {__version__} config",
            "description": "A deepfeat run: deepfeat fit -c CONFIG (deepfeat fit --help-config lists every key)."}


def _name_the_evaluations(evaluation: dict[str, Any]) -> None:
    """``evaluation.protocol``: the registered feature protocols; ``evaluation.settings``: each evaluation's
    arguments (settings a recorded result adds besides them still load, so others are not refused here)."""
    from deepfeat.eval.evaluations import EVALUATIONS, evaluation_spec

    spellings = {entry.name: [entry.name, *entry.aliases] for entry in EVALUATIONS.entries()}
    evaluation["protocol"]["items"] = {"enum": sorted(n for name, names in spellings.items()
                                                      if evaluation_spec(name).on_features for n in names)}
    settings = {name: {"type": "object", "properties": arguments_schema(EVALUATIONS.get(name),
                                                                         EVALUATIONS.params(name) or {})}
                for name in spellings}
    evaluation["settings"]["properties"] = {n: settings[name] for name, names in spellings.items() for n in names}


def spec_schema(registry: Registry[Any], also: Mapping[str, Any]) -> dict[str, Any]:
    """A ``name`` or ``{name: ..., **arguments}`` section: a registered name (or alias), then per name its arguments
    and the section's own keys ``also``; an argument the name does not take is refused."""
    spellings = {entry.name: [entry.name, *entry.aliases] for entry in registry.entries()}
    every = sorted(n for names in spellings.values() for n in names)
    branches = []
    for name, names in spellings.items():
        params = registry.params(name)
        if params is None:  # takes **kwargs: anything goes
            continue
        required = [n for n, p in params.items() if p.default is inspect.Parameter.empty]
        branches.append({"if": {"properties": {"name": {"enum": names}}, "required": ["name"]},
                         "then": {"properties": {"name": True, **also, **arguments_schema(registry.get(name), params)},
                                  "required": ["name", *required], "additionalProperties": False}})
    mapping = {"type": "object", "properties": {"name": {"enum": every}}, "required": ["name"], "allOf": branches}
    return {"anyOf": [{"type": "string", "enum": every}, mapping]}


def arguments_schema(factory: Any, params: Mapping[str, inspect.Parameter]) -> dict[str, Any]:
    """``{argument: its JSON Schema}``: the type from the signature (where pydantic can say it in JSON Schema),
    the meaning from the docstrings, the default where it is plain data."""
    types_, meanings, plain_defaults = hints(factory), meanings_of(factory), defaults(params)
    out = {}
    for name, p in params.items():
        schema = _type_schema(types_.get(name, p.annotation))
        if meanings.get(name):
            schema["description"] = meanings[name]
        if name in plain_defaults:
            schema["default"] = plain_defaults[name]
        out[name] = schema
    return out


def _type_schema(annotation: Any) -> dict[str, Any]:
    """The JSON Schema of one annotation; ``{}`` (anything) for what JSON Schema cannot say (modules, callables)."""
    from pydantic import PydanticUserError, TypeAdapter

    if annotation is inspect.Parameter.empty:
        return {}
    try:
        schema = TypeAdapter(annotation).json_schema()
    except (PydanticUserError, TypeError, NameError):  # arbitrary classes, unresolved names
        return {}
    return {} if "$defs" in schema or "$ref" in schema else schema

