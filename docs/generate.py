"""The documentation pages generated at build time from the code itself, so they cannot drift from it.

- the extras matrix: each extra's packages (``pyproject.toml``) and what needs it (every
  ``deepfeat.extras.load(module, extra, where)`` call and every ``extras=(...)`` declaration in the sources);
- every registry's components, each with the arguments ``deepfeat list KIND NAME`` shows;
- every config key, from the config schema (``deepfeat.schema``), and the former keys that still load;
- the example configs that ship in the package, each with its description line.

``conf.py`` writes them into ``_generated/`` before Sphinx reads the pages that include them.
"""

from __future__ import annotations

import ast
import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "src" / "deepfeat"


def _cell(text: str) -> str:
    """Table cell text: one line, its pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _text(node: ast.expr) -> str | None:
    """A string constant, or an f-string with each replacement shown as ``…``; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "…" for v in node.values)
    return None


def extra_users() -> dict[str, set[str]]:
    """``{extra: {what needs it}}`` read from the sources: ``load(module, extra, where)`` calls and ``extras=``."""
    users: dict[str, set[str]] = {}
    for path in SOURCES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name) and node.func.id == "load" and len(node.args) >= 3:
                extra, where = _text(node.args[1]), _text(node.args[2])
                if extra and where:
                    users.setdefault(extra, set()).add(where)
            declared = next((k.value for k in node.keywords if k.arg == "extras"), None)
            if isinstance(declared, ast.Tuple) and node.args and _text(node.args[0]):
                kind = node.func.id if isinstance(node.func, ast.Name) else ""
                for item in declared.elts:
                    if _text(item):
                        users.setdefault(_text(item), set()).add(f"{kind} {_text(node.args[0])}".strip())
    return users


def extras_matrix() -> str:
    """The extras as a Markdown list: each one's packages, and what needs it."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    users = {extra: {where.split(" at ")[0] for where in wheres} for extra, wheres in extra_users().items()}
    lines = []
    for name, packages in extras.items():
        needs = ", ".join(sorted(users.get(name, ())))
        lines.append(f"- **`{name}`**: {', '.join(f'`{p}`' for p in packages)}." + (f" Needed by: {needs}." if needs else ""))
    return "\n".join(lines) + "\n"


def components() -> str:
    """Every registry, each entry with its description, aliases and arguments (type, default, meaning)."""
    from deepfeat.arguments import arguments
    from deepfeat.cli.reference import KINDS
    from deepfeat.cli.kinds import kind_name
    from deepfeat.registry import all_registries

    for modules, _ in KINDS.values():
        for module in modules:
            importlib.import_module(module)
    registries = all_registries()
    out = []
    for plural in sorted(KINDS, key=kind_name):
        registry = registries[plural]
        out += [f"## {kind_name(plural)}", "", f"Used as: {KINDS[plural][1]}.", ""]
        for entry in registry.entries():
            out += [f"### `{entry.name}`", "", _cell(entry.description) or "(no description)", ""]
            if entry.aliases:
                out += [f"Aliases: {', '.join(f'`{a}`' for a in entry.aliases)}.", ""]
            params = registry.params(entry.name)
            rows = [] if params is None else arguments(entry.factory, params)
            if params is None:
                out += ["Arguments: any keyword arguments.", ""]
            elif rows:
                out += ["| argument | type | default | meaning |", "| --- | --- | --- | --- |"]
                out += [f"| `{r.name}` | {_cell(r.type)} | {_cell(r.default)} | {_cell(r.meaning)} |" for r in rows]
                out.append("")
    return "\n".join(out)


def _doc(cls: type) -> str:
    """A class's docstring as one Markdown paragraph (RST double backquotes as Markdown code)."""
    import inspect

    return _cell((inspect.getdoc(cls) or "").replace("``", "`"))


def config_reference() -> str:
    """Every config key as the schema declares it (type, default, range, version, meaning), section by section,
    then the former keys that still load (``deepfeat.migrations``)."""
    from deepfeat.arguments import plain, type_text, yaml_text
    from deepfeat.config import SECTION_KEYS, SPECS, Config, fixed_sections
    from deepfeat.migrations import MIGRATIONS
    from deepfeat.schema import keys, range_text

    def table(prefix: str, cls: type) -> list[str]:
        rows = ["| key | type | default | allowed | since | meaning |", "| --- | --- | --- | --- | --- | --- |"]
        for k in keys(cls):
            if prefix == "" and k.name in sections:
                continue
            allowed = range_text(k) if k.bounds else ""
            typ = "name or {name: ..., arguments}" if prefix == "" and k.name in SPECS else type_text(k.annotation)
            rows.append(f"| `{prefix}{k.name}` | {_cell(typ)} | `{_cell(yaml_text(plain(k.default)))}` "
                        f"| {allowed} | {k.since} | {_cell(k.help)} |")
        return [*rows, ""]

    sections = fixed_sections()
    out = ["## Top level", "", "The sections written `{name: ..., ...}` take a registered name and that name's arguments "
           "(see the components page).", "", *table("", Config)]
    for section, cls in SECTION_KEYS.items():
        out += [f"## `{section}`: keys besides the arguments of its name", "", _doc(cls), "",
                *table(f"{section}.", cls)]
    for section, cls in sections.items():
        out += [f"## `{section}`", "", _doc(cls), "", *table(f"{section}.", cls)]
    out += ["## Former keys", "", "Configs and run folders written before still load: each step rewrites former keys "
            "into today's, with a deprecation warning.", "", "| since | change | former keys |", "| --- | --- | --- |"]
    out += [f"| {m.since} | {_cell(m.description)} | {', '.join(f'`{m.section}.{k}`' for k in m.former)} |"
            for m in MIGRATIONS]
    return "\n".join(out) + "\n"
def examples() -> str:
    """The example configs that ship in the package, each with its description line, as a Markdown table."""
    from deepfeat.cli.examples import index

    rows = [f"| `{name}` | {_cell(text)} |" for name, text in index().items()]
    return "\n".join(["| config | what it runs |", "| --- | --- |", *rows]) + "\n"


def write(folder: Path) -> None:
    """Write every generated page into ``folder``."""
    folder.mkdir(exist_ok=True)
    (folder / "extras.md").write_text(extras_matrix(), encoding="utf-8")
    (folder / "components.md").write_text(components(), encoding="utf-8")
    (folder / "config.md").write_text(config_reference(), encoding="utf-8")
    (folder / "examples.md").write_text(examples(), encoding="utf-8")
