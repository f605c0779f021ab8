"""The words ``deepfeat list`` takes for a kind of registry, and the names the documentation gives the kinds.

Command-line vocabulary only: the registries themselves know a kind by its plural.
"""

from __future__ import annotations

from deepfeat.errors import ConfigError
from deepfeat.typecheck import did_you_mean

# Kinds the documentation calls by another name than their registry's plural (the plural stays accepted).
KIND_NAMES: dict[str, str] = {"schedulers": "schedules"}
# More words `deepfeat list` takes for a kind -> the registry's plural (singulars are accepted as well).
KIND_ALIASES: dict[str, str] = {"schedules": "schedulers", "evaluators": "evaluations", "protocols": "evaluations",
                                "metrics": "evaluations",
                                "backbones": "backbone sources", "sources": "backbone sources"}



def kind_name(plural: str) -> str:
    """What the docs and ``deepfeat list`` call the kind of the registry ``plural`` (``schedulers`` -> ``schedules``)."""
    return KIND_NAMES.get(plural, plural)


def find_kind(word: str, plurals: list[str] | tuple[str, ...]) -> str:
    """The registry plural among ``plurals`` that ``word`` names: the plural, its docs name, an alias or a singular.

    ``"schedules"``, ``"scheduler"`` and ``"schedulers"`` all give ``"schedulers"``; anything else is a
    :class:`ConfigError` listing the kinds, with the close match.
    """
    key = " ".join(word.lower().replace("_", " ").replace("-", " ").split())  # backbone_sources, backbone-sources
    for candidate in (key, key + "s", KIND_ALIASES.get(key), KIND_ALIASES.get(key + "s")):
        if candidate in plurals:
            return candidate
    names = sorted(kind_name(p) for p in plurals)
    raise ConfigError(f"unknown kind '{word}' at deepfeat list: expected one of {', '.join(names)}."
                      f"{did_you_mean(key, names + sorted(set(plurals) | KIND_ALIASES.keys()))}")
