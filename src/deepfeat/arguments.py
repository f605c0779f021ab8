"""What a registered factory takes: each argument's name, type, default and a one-line meaning.

Everything is read from the code itself, so it cannot drift from what the factory does: the type and the
default from the signature, the meaning from the first of these that names the argument:

1. an ``Args:`` (or ``Parameters``) section of the factory's docstring: ``name: meaning``;
2. the ``#`` comment on the argument's line of the signature, or the comment lines right above it;
3. the first sentence of the factory's docstring (a class's, then its ``__init__``'s), then of its module's
   docstring, with an RST literal that starts with the argument: ````name````, ````name: x````, ````name[-1]````.
"""

from __future__ import annotations

import inspect
import io
import re
import sys
import tokenize
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from deepfeat.typecheck import hints

REQUIRED = "required"
_MEANING_WIDTH = 110  # a meaning is one line: longer sentences are cut at a word
_SECTION = re.compile(r"^(Args|Arguments|Parameters|Keyword Args):?$")
_ITEM = re.compile(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass(frozen=True)
class Argument:
    """One argument a user may set: ``type`` as in a signature, ``default`` as YAML (or ``required``)."""

    name: str
    type: str
    default: str
    meaning: str


def arguments(factory: Callable[..., Any], params: Mapping[str, inspect.Parameter]) -> list[Argument]:
    """The :class:`Argument` of each of ``params`` (the parameters of ``factory`` a user may set), in order."""
    types_, meanings = hints(factory), meanings_of(factory)
    return [Argument(name, type_text(types_.get(name, p.annotation)) if _annotated(types_, p) else "",
                     REQUIRED if p.default is inspect.Parameter.empty else yaml_text(plain(p.default)),
                     meanings.get(name, ""))
            for name, p in params.items()]


def defaults(params: Mapping[str, inspect.Parameter]) -> dict[str, Any]:
    """The default of every parameter whose default is plain YAML data (tuples become lists; objects are left out)."""
    return {n: plain(p.default) for n, p in params.items()
            if p.default is not inspect.Parameter.empty and _is_plain(p.default)}


def _is_plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return value is None or isinstance(value, (bool, int, float, str))


def _annotated(types_: Mapping[str, Any], p: inspect.Parameter) -> bool:
    return p.name in types_ or p.annotation is not inspect.Parameter.empty


def meanings_of(factory: Callable[..., Any]) -> dict[str, str]:
    """One line of meaning per argument name of ``factory``, from its docstrings and signature comments."""
    target = getattr(factory, "func", factory)  # a functools.partial documents its function
    init = target.__init__ if isinstance(target, type) else None
    docs = [inspect.getdoc(target) or ""]
    if init is not None and "__init__" in vars(target) and init.__doc__:  # its own, not e.g. torch's Module's
        docs.append(inspect.getdoc(init) or "")
    module = sys.modules.get(getattr(target, "__module__", ""), None)
    params = inspect.signature(factory).parameters
    found: dict[str, str] = {}
    for doc in docs:
        found = {**_args_section(doc), **found}
    found = {**signature_comments(init or target), **found}
    for doc in [*docs, getattr(module, "__doc__", None) or ""]:
        for name in params:
            if name not in found and (sentence := _sentence_quoting(doc, name)):
                found[name] = sentence
    return {name: one_line(text) for name, text in found.items() if name in params}


def _args_section(doc: str) -> dict[str, str]:
    """``name -> meaning`` from a Google-style ``Args:`` or numpy-style ``Parameters`` section."""
    found: dict[str, str] = {}
    lines, inside, name = doc.splitlines(), False, None
    for line in lines:
        stripped = line.strip()
        if _SECTION.match(stripped):
            inside, name = True, None
        elif inside and not stripped:
            name = None
        elif inside and not line.startswith(" ") and not set(stripped) <= set("-"):
            inside = False  # the next section
        elif inside and (item := _ITEM.match(stripped)) and (item.group(2) or name is None):
            name = item.group(1)
            found[name] = item.group(2)
        elif inside and name is not None:
            found[name] = f"{found[name]} {stripped}".strip()
    return found


def signature_comments(function: Callable[..., Any]) -> dict[str, str]:
    """The comment on each parameter's line of ``function``'s signature, or the comment lines right above it."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return {}
    header = source[:_signature_end(source)]
    return comments_by_name(header, re.compile(r"\s*\*{0,2}(\w+)\s*[:=,)]"))


def _signature_end(source: str) -> int:
    """Where the ``def`` line's signature ends: its closing ``:`` at parenthesis depth 0."""
    depth = 0
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif tok.type == tokenize.OP and tok.string == ":" and depth == 0:
            return sum(len(line) for line in source.splitlines(keepends=True)[: tok.start[0]])
    return len(source)


def comments_by_name(source: str, pattern: re.Pattern[str]) -> dict[str, str]:
    """By the name ``pattern`` matches at a line's start: the comment on that line, or the comment lines right above."""
    comments = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        pass  # a cut signature ends unbalanced: the comments before the cut were read
    lines = source.splitlines()
    found: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        match = pattern.match(line)
        if not match:
            continue
        above, row = [], number - 1
        while row in comments and lines[row - 1].lstrip().startswith("#"):
            above.insert(0, comments[row])
            row -= 1
        text = comments.get(number) or " ".join(above)
        if text:
            found.setdefault(match.group(1), text)
    return found


def _sentence_quoting(doc: str, name: str) -> str:
    """The first sentence of ``doc`` with an RST literal starting with ``name`` (````name````, ````name: x````)."""
    quoted = re.compile(rf"``{re.escape(name)}(?!\w)[^`]*``")
    for paragraph in re.split(r"\n\s*\n", doc):
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z`(])", " ".join(paragraph.split())):
            if quoted.search(sentence):
                return sentence
    return ""


def one_line(text: str) -> str:
    """A meaning as one line: no RST quotes, at most ~110 characters, cut at a word."""
    text = " ".join(text.replace("``", "").split())
    if len(text) <= _MEANING_WIDTH:
        return text
    return text[: _MEANING_WIDTH].rsplit(" ", 1)[0].rstrip(",;:") + " ..."


def plain(value: Any) -> Any:
    """A default as plain YAML data: tuples as lists; an object YAML cannot hold as its ``repr``."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def type_text(annotation: Any) -> str:
    """``int``, ``float | None``, ``auto | fp32 | bf16``, ``list[pca | tsne | umap]`` for an annotation."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join("None" if a is type(None) else type_text(a) for a in args)
    if origin is not None and args:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(type_text(a) for a in args)}]"
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")


def yaml_text(value: Any) -> str:
    """A default as it would be written in YAML: ``null``, ``[5, 20]``, ``{name: digits}``."""
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).strip().removesuffix("\n...").strip()
