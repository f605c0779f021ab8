"""CLI faults: a mistyped command is one line with the close match, exit code 2."""

from __future__ import annotations

import pytest

from deepfeat.cli import main


@pytest.mark.parametrize("argv,command,match", [
    (["fitt", "-c", "x.yaml"], "fitt", "fit"),
    (["--debug", "evalute", "runs/x"], "evalute", "evaluate"),
    (["-v", "lr_find", "x.yaml"], "lr_find", "lr-find"),
])
def test_mistyped_command_suggests_the_close_one(argv: list[str], command: str, match: str, capsys) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err == f"error: unknown command '{command}'. Did you mean '{match}'?\n"


def test_unrelated_command_lists_the_commands(capsys) -> None:
    assert main(["zzz"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown command 'zzz'. Expected one of: fit, resume, evaluate")
    assert err.count("\n") == 1


def test_known_command_and_help_still_parse(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0 and "COMMAND" in capsys.readouterr().out
    assert main(["list", "optimizers"]) == 0 and "adamw" in capsys.readouterr().out
