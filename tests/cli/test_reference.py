"""`deepfeat list KIND NAME`, --help-config and --print-config show each chosen name's arguments; a missing or
malformed config, and the arguments of a name once cached, are answered without importing torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def _rows(text: str) -> dict[str, list[str]]:
    """The argument rows of `deepfeat list KIND NAME`: name -> [type..., default, meaning...] split on blanks."""
    rows = text.split("arguments (name, type, default, meaning):\n", 1)[1]
    return {line.split()[0]: line.split()[1:] for line in rows.splitlines()}


def test_list_a_dataset_shows_its_arguments_with_type_default_and_meaning(capsys) -> None:
    from deepfeat.cli import main

    assert main(["list", "datasets", "image_folder"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dataset 'image_folder': ")
    rows = _rows(out)
    assert rows["root"][:2] == ["str", "required"]
    assert rows["size"][:5] == ["int", "|", "list[int]", "32", "every"]
    assert rows["grayscale"][:5] == ["bool", "|", "None", "null", "one"]
    assert "options" not in rows  # the library fills it: not the user's to set
    assert main(["list", "dataset", "imagefolder"]) == 0 and capsys.readouterr().out == out  # singular, alias


def test_list_an_encoder_leaves_out_what_the_library_passes(capsys) -> None:
    from deepfeat.cli import main

    assert main(["list", "encoders", "mlp"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert list(rows) == ["hidden", "activation", "norm", "dropout", "weight_init", "bias_init"]  # no input_shape
    assert rows["hidden"][:3] == ["Sequence[int]", "[256,", "128]"]
    assert main(["list", "schedules", "cosine"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert "min_lr" in rows and not {"optimizer", "epochs", "steps_per_epoch"} & rows.keys()
    assert main(["list", "metrics", "knn"]) == 0  # the arrays are positional: only the keyword settings are shown
    assert list(_rows(capsys.readouterr().out)) == ["k", "metric", "return_predictions"]


def test_an_unknown_name_is_one_line_with_the_close_match(capsys) -> None:
    from deepfeat.cli import main

    assert main(["list", "encoders", "mpl"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown encoder 'mpl' at deepfeat list encoders" in err
    assert err.rstrip().endswith("Did you mean 'mlp'?")


def _run(script: str, tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, **(env or {})})


def test_a_missing_or_malformed_config_is_one_line_before_torch_is_imported(tmp_path) -> None:
    (tmp_path / "bad.yaml").write_text("training: {epochs: 2\n")
    (tmp_path / "good.yaml").write_text("encoder: {name: mlp, hidden: [8]}\n")
    r = _run("""
        import sys
        from deepfeat.cli import main
        codes = [main(["config", "check", "-c", "missing.yaml"]), main(["config", "check", "bad.yaml"]),
                 main(["fit", "-c", "missing.yaml"])]
        print(codes, sorted(m for m in sys.modules if m.split(".")[0] == "torch")[:3])
        # a file that exists is checked as fit would (registries, the data itself: digits comes from scikit-learn);
        # torchvision, which these data and this model do not use, waits
        print(main(["config", "check", "good.yaml"]), sorted({m.split(".")[0] for m in sys.modules} & {"torchvision"}))
    """, tmp_path)
    out = r.stdout.splitlines()
    assert out[0] == "[2, 2, 2] []" and out[1].startswith("good.yaml: ok") and out[2] == "0 []", r.stdout + r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 3 and lines[0].startswith("error: config file missing.yaml: not found.")
    assert lines[1].startswith("error: config file bad.yaml: not valid YAML (") and "line 2" in lines[1]


def test_the_arguments_of_a_name_come_from_the_cache_without_torch(tmp_path, monkeypatch) -> None:
    import importlib

    from deepfeat.cli.reference import KINDS, _cache_file, kind_listing, write_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    for modules, _ in KINDS.values():
        for module in modules:
            importlib.import_module(module)
    write_cache(_cache_file(), {kind: kind_listing(kind) for kind in KINDS})
    r = _run("""
        import sys
        from deepfeat.cli import main
        codes = [main(["list", "datasets", "image_folder"]), main(["list", "encoders", "mpl"])]
        print(codes, sorted(m for m in sys.modules if m.split(".")[0] == "torch")[:3])
    """, tmp_path, {"XDG_CACHE_HOME": str(tmp_path)})
    assert r.stdout.splitlines()[-1] == "[0, 2] []", r.stdout + r.stderr
    assert _rows("\n".join(r.stdout.splitlines()[:-1]))["grayscale"][:4] == ["bool", "|", "None", "null"]
    assert "Did you mean 'mlp'?" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("config, rows", [
    (None, {"encoder.hidden": "[256, 128]", "optimizer.lr": "0.001", "learner.label_smoothing": "0.0"}),
    ("data: {name: image_folder, root: imgs}\nencoder: {name: cnn}\nschedule: {name: cosine}\n",
     {"data.root": "required", "data.grayscale": "null", "encoder.channels": "[32, 64]", "schedule.min_lr": "0.0"}),
])
def test_help_config_shows_the_arguments_of_the_names_the_config_chooses(config, rows, tmp_path, monkeypatch,
                                                                        capsys) -> None:
    from deepfeat.cli import main

    monkeypatch.chdir(tmp_path)
    args = ["fit", "--help-config"]
    if config is not None:
        (tmp_path / "c.yaml").write_text(config)
        args += ["-c", "c.yaml"]
    assert main(args) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    for key, default in rows.items():
        assert f" {default} " in lines[key], lines.get(key)
    assert "encoder.input_shape" not in lines and "data.options" not in lines
