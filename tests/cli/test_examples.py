"""`deepfeat examples` lists the example configs that ship in the package and copies one out; examples/README.md is
generated from the same description lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfeat.cli import examples, main
from deepfeat.errors import ConfigError

CLONE_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_listing_holds_every_config_of_the_clone_with_its_description(capsys) -> None:
    assert main(["examples"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == sorted(p.stem for p in (CLONE_EXAMPLES / "configs").glob("*.yaml"))
    digits_mlp = next(line for line in lines if line.startswith("digits_mlp "))
    assert digits_mlp.split(None, 1)[1] == "Supervised MLP on scikit-learn's 8x8 digits (no download; about 15 s on 2 cores)."


def test_the_examples_readme_is_generated_from_the_descriptions() -> None:
    """Regenerate with: deepfeat examples --markdown > examples/README.md"""
    assert (CLONE_EXAMPLES / "README.md").read_text() == examples.index_markdown()


def test_copy_writes_the_config_and_never_overwrites(tmp_path: Path, capsys) -> None:
    assert main(["examples", "copy", "digits_mlp", "--to", str(tmp_path / "mine")]) == 0
    copied = tmp_path / "mine" / "digits_mlp.yaml"
    assert copied.read_bytes() == (CLONE_EXAMPLES / "configs" / "digits_mlp.yaml").read_bytes()
    assert capsys.readouterr().out == f"wrote {copied}; train it with: deepfeat fit -c {copied}\n"
    copied.write_text("name: mine\n")
    assert main(["examples", "copy", "digits_mlp.yaml", "--to", str(tmp_path / "mine")]) == 2
    assert "expected no file there, got one" in capsys.readouterr().err
    assert copied.read_text() == "name: mine\n"


def test_copy_of_an_unknown_name_suggests_the_close_one(tmp_path: Path, capsys) -> None:
    assert main(["examples", "copy", "digits_mpl", "--to", str(tmp_path)]) == 2
    assert "got 'digits_mpl'. Did you mean 'digits_mlp'?" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_config_without_its_description_line_is_named(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "bare.yaml").write_text("# a comment, not a description\nname: bare\n")
    monkeypatch.setattr(examples, "folder", lambda: tmp_path)
    with pytest.raises(ConfigError, match=r"bare.yaml: expected a first line '# description: <one line>', got"):
        examples.index()


def test_a_package_without_example_configs_says_so(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(examples, "folder", lambda: tmp_path)
    assert main(["examples"]) == 2
    assert "expected *.yaml files, got none" in capsys.readouterr().err
