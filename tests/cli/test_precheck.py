"""A config's keys, names, arguments and split fractions are checked against the names cache before torch loads,
in the one line the full check gives, and nothing the full check accepts is refused."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from deepfeat.cli.precheck import precheck
from deepfeat.cli.reference import _cache_file, _everything, write_cache
from deepfeat.config import load_config
from deepfeat.errors import ConfigError

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "configs").glob("*.yaml"))
MISTAKES = {  # the documented failure cases, each with the start of the one line it gets
    "unknown_key.yaml": ("trainig: {epochs: 3}\n", "unknown key 'trainig': expected one of data, "),
    "unknown_arg.yaml": ("encoder: {name: mlp, hiden: [8]}\n", "unknown key 'encoder.hiden': expected one of "),
    "no_root.yaml": ("data: {name: image_folder}\n", "missing key 'data.root': expected a value for root"),
    "no_name.yaml": ("data: imgs\n", "unknown dataset 'imgs' at data: expected one of arrays, "),
    "typo.yaml": ("encoder: {name: mpl}\n", "unknown encoder 'mpl' at encoder.name: expected one of "),
    "fraction.yaml": ("data: {name: digits, val_fraction: 1.5}\n", "value out of range at data.val_fraction: "
                                                                   "expected a number in [0, 1) or null, got 1.5"),
    "range.yaml": ("training: {epochs: 0}\n", "value out of range at training.epochs: expected an integer >= 1"),
    "fractions.yaml": ("data: {name: digits, val_fraction: 0.5, test_fraction: 0.5}\n",
                       "split fractions at data: expected val_fraction + test_fraction < 1"),
}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The names cache, written in ``tmp_path`` as ``config check`` writes it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    write_cache(_cache_file(), _everything())
    return tmp_path


def test_each_mistake_is_the_full_checks_line_before_torch_is_imported(cache: Path) -> None:
    for name, (text, _) in MISTAKES.items():
        (cache / name).write_text(text)
    script = f"""
        import sys
        from deepfeat.cli import main
        codes = [main(["config", "check", "-c", name]) for name in {list(MISTAKES)!r}]
        print(codes, sorted(m for m in sys.modules if m.split(".")[0] == "torch")[:3])
    """
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=cache, capture_output=True, text=True,
                       timeout=300, check=False, env={"XDG_CACHE_HOME": str(cache), "PATH": "", "PYTHONPATH":
                                                      ":".join(sys.path)})
    assert r.stdout.splitlines()[-1] == f"{[2] * len(MISTAKES)} []", r.stdout + r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == len(MISTAKES)
    for line, (name, (text, start)) in zip(lines, MISTAKES.items()):
        assert line.startswith(f"error: {start}"), line
        with pytest.raises(ConfigError) as full:  # the same line as loading the config gives
            load_config(yaml.safe_load(text)) if name != "fractions.yaml" else _load_data(text)
        assert line == f"error: {full.value}"


def _load_data(text: str) -> None:
    from deepfeat.data.datasets import load_dataset

    data = yaml.safe_load(text)["data"]
    load_dataset({"name": data.pop("name")}, **data)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_config_passes(cache: Path, path: Path) -> None:
    precheck(yaml.safe_load(path.read_text()))


def test_former_keys_that_still_load_pass(cache: Path) -> None:
    raw = {"data": {"name": "digits", "train_classes": [0]}, "learner": {"name": "autoencoder", "low_label": None},
           "evaluation": {"linear_probe": True}}
    precheck(raw)
    load_config(raw)  # the full check accepts them too (with a warning)


def test_without_a_cache_nothing_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    precheck({"trainig": {}})  # left to the full check
