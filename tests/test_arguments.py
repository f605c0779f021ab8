"""Each argument's meaning is read from the code: an Args section, the signature's comment, a docstring sentence."""

from __future__ import annotations

import inspect

from deepfeat.arguments import Argument, arguments, defaults


def _documented(root: str, size: int = 32, gray: bool = False, depth: int = 2, *, skip: tuple = (1, 2)) -> None:
    """Images ``root/<class>/*`` resized.

    Then ``depth`` blocks. A sentence naming size without quotes is not taken.

    Args:
        gray: one channel
            instead of three.
    """


def _commented(
    width: int = 8,  # the width of each layer
    # how many layers,
    # at least one
    layers: int = 2,
    mode: str = "a",
) -> None:
    """No section here."""


def test_the_meaning_comes_from_an_args_section_a_comment_or_a_sentence_quoting_the_name() -> None:
    params = dict(inspect.signature(_documented).parameters)
    got = {a.name: a for a in arguments(_documented, params)}
    assert got["root"] == Argument("root", "str", "required", "Images root/<class>/* resized.")
    assert got["gray"].meaning == "one channel instead of three."
    assert got["depth"].meaning == "Then depth blocks."
    assert got["size"].meaning == ""  # named in a sentence, but not as ``size``
    assert got["skip"].default == "[1, 2]" and defaults(params)["skip"] == [1, 2]
    params = dict(inspect.signature(_commented).parameters)
    got = {a.name: a.meaning for a in arguments(_commented, params)}
    assert got == {"width": "the width of each layer", "layers": "how many layers, at least one", "mode": ""}
