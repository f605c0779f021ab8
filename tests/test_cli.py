"""End to end through subprocesses on a tiny config: fit, evaluate, embed, report, export, resume."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

TINY = """
name: tiny
data: {name: digits}
encoder: {name: mlp, hidden: [32]}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 2, batch_size: 64}
evaluation: {embedding_plots: [pca]}
"""


def deepfeat(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deepfeat.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "tiny.yaml").write_text(TINY)
    r = deepfeat("fit", "-c", "tiny.yaml", "--out", "run", cwd=tmp)
    assert r.returncode == 0, r.stderr
    return tmp, tmp / "run"


def test_fit_writes_the_run_folder_and_prints_where(fitted) -> None:
    tmp, run = fitted
    for name in ("config.yaml", "metrics.csv", "results.json", "report.html", "checkpoints/last.pt",
                 "checkpoints/best.pt", "model/model.safetensors", "model/model.json", "plots/training_curves.png"):
        assert (run / name).exists(), name
    results = json.loads((run / "results.json").read_text())
    assert 0.8 < results["test"]["test/acc"] <= 1.0
    assert yaml.safe_load((run / "config.yaml").read_text())["training"]["epochs"] == 2


def test_output_without_terminal_has_one_line_per_epoch(tmp_path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    r = deepfeat("fit", "-c", "tiny.yaml", "--out", "r", "--set", "logging.report=false", "--set", "logging.plots=false", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr
    assert [l.split()[1] for l in r.stderr.splitlines() if l.startswith("epoch")] == ["1/2", "2/2"]
    assert "report:" not in r.stdout  # logging.report is false: no report to point to


def test_evaluate_embed_report_export(fitted) -> None:
    tmp, run = fitted
    r = deepfeat("evaluate", str(run), cwd=tmp)
    assert r.returncode == 0 and "linear_probe" in r.stdout, r.stderr
    for suffix in (".npy", ".csv"):
        r = deepfeat("embed", str(run), "--data", "digits", "--out", f"z{suffix}", cwd=tmp)
        assert r.returncode == 0, r.stderr
    z = np.load(tmp / "z.npy")
    assert z.shape == (1797, 32) and np.isfinite(z).all()
    table = np.loadtxt(tmp / "z.csv", delimiter=",", skiprows=1)  # id (the row), f0, f1, ...
    np.testing.assert_array_equal(table[:, 0], np.arange(1797))
    np.testing.assert_allclose(table[:, 1:], z, rtol=1e-4, atol=1e-5)
    r = deepfeat("report", str(run), cwd=tmp)
    assert r.returncode == 0 and "report.html" in r.stdout


@pytest.mark.slow
def test_export_onnx(fitted) -> None:
    tmp, run = fitted
    r = deepfeat("export", str(run), "--format", "onnx", cwd=tmp)
    assert r.returncode == 0, r.stderr
    assert (run / "model" / "model.onnx").stat().st_size > 1000


def test_resume_a_finished_run_is_refused_and_keeps_its_epochs(fitted) -> None:
    tmp, run = fitted
    r = deepfeat("resume", str(run), cwd=tmp)
    assert r.returncode == 2 and "already finished (2 epochs)" in r.stderr, r.stderr
    assert len((run / "metrics.csv").read_text().splitlines()) == 3


def test_typo_exits_2_with_one_line_and_the_suggestion(tmp_path) -> None:
    (tmp_path / "bad.yaml").write_text(TINY.replace("epochs: 2", "epochz: 2"))
    r = deepfeat("fit", "-c", "bad.yaml", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "unknown key 'training.epochz'" in r.stderr and "Did you mean 'epochs'" in r.stderr
    r = deepfeat("--debug", "config", "check", "bad.yaml", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_print_config_loads_back_as_the_same_config(tmp_path) -> None:
    from deepfeat.cli.reference import resolved_config
    from deepfeat.config import Config, load_config

    (tmp_path / "tiny.yaml").write_text(TINY)
    r = deepfeat("fit", "-c", "tiny.yaml", "--set", "optimizer.lr=0.01", "--print-config", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    printed = yaml.safe_load(r.stdout)
    assert resolved_config(Config.from_dict(printed)) == printed
    assert printed == resolved_config(load_config(tmp_path / "tiny.yaml", ["optimizer.lr=0.01"]))
    # every argument of the chosen names is written out with its default, the config's own values kept
    assert printed["encoder"] == {"name": "mlp", "hidden": [32], "activation": "relu", "norm": "none", "dropout": 0.0,
                                  "weight_init": "auto", "bias_init": "zeros"}
    assert printed["optimizer"]["lr"] == 0.01 and printed["optimizer"]["betas"] == [0.9, 0.999]
    assert not (tmp_path / "runs").exists()


def test_list_datasets_and_help_examples(tmp_path, capsys) -> None:
    from deepfeat.cli import EXAMPLES, main

    r = deepfeat("list", "encoders", cwd=tmp_path)
    assert r.returncode == 0 and "mlp" in r.stdout and "cnn" in r.stdout and "lstm" in r.stdout
    assert main(["list", "encoderz"]) == 2
    assert "Did you mean 'encoders'" in capsys.readouterr().err
    assert main(["datasets"]) == 0 and "digits" in capsys.readouterr().out
    for cmd in EXAMPLES:  # every subcommand's --help ends with a working example
        with pytest.raises(SystemExit) as exit_:
            main([cmd, "--help"])
        assert exit_.value.code == 0 and "example:\n  deepfeat " in capsys.readouterr().out, cmd


# -- issue 16: one shape for config commands, --version, list kinds, --help-config, help on every flag ----------

QUICK = TINY.replace("epochs: 2", "epochs: 1") + "logging: {plots: false, report: false}\n"
CONFIG_COMMANDS = {  # the command, and the cheapest real call of it
    "fit": ["fit", "--print-config"],
    "diagnose": ["diagnose", "--epochs", "1", "--out", "diag"],
    "lr-find": ["lr-find", "--steps", "5", "--out", "lr"],
    "compare": ["compare", "--grid", "optimizer.lr=0.01", "--out", "cmp"],
    "config": ["config", "check"],
}


@pytest.mark.parametrize("form", ["-c", "positional"])
@pytest.mark.parametrize("command", list(CONFIG_COMMANDS))
def test_every_config_command_takes_dash_c_and_the_positional_form(command, form, tmp_path, monkeypatch, capsys) -> None:
    from deepfeat.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "quick.yaml").write_text(QUICK)
    config = ["-c", "quick.yaml"] if form == "-c" else ["quick.yaml"]
    assert main([*CONFIG_COMMANDS[command], *config]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert {"fit": "name: tiny", "diagnose": "no problems found", "lr-find": "plot:", "compare": "lr=0.01",
            "config": "quick.yaml: ok"}[command] in out


@pytest.mark.parametrize("command", list(CONFIG_COMMANDS))
def test_a_config_command_without_a_config_or_with_two_says_so_in_one_line(command, tmp_path, monkeypatch, capsys) -> None:
    from deepfeat.cli import main

    monkeypatch.chdir(tmp_path)
    head = CONFIG_COMMANDS[command][:2] if command == "config" else [command]
    assert main(head) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"config at deepfeat {command}: expected a YAML file, got none" in err
    assert main([*head, "a.yaml", "-c", "b.yaml"]) == 2
    assert "expected one file, got b.yaml and a.yaml" in capsys.readouterr().err
    assert main([*head, "same.yaml", "-c", "same.yaml"]) == 2  # the same file twice is one config: it is read (absent)
    assert "config file same.yaml: not found" in capsys.readouterr().err


def test_version_is_the_installed_metadata_and_pyproject_version(capsys) -> None:
    from importlib import metadata

    import deepfeat
    from deepfeat.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    pyproject_text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    pyproject = re.search(r'^version = "([^"]+)"$', pyproject_text, re.MULTILINE).group(1)  # tomllib needs Python 3.11
    assert out.startswith(f"deepfeat {metadata.version('deepfeat')} (torch ")
    assert metadata.version("deepfeat") == pyproject == deepfeat.__version__


def test_list_names_the_kinds_as_the_docs_do_and_keeps_the_old_names(capsys) -> None:
    from deepfeat.cli import main

    assert main(["list"]) == 0
    kinds = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    page = (Path(__file__).resolve().parents[1] / "docs" / "concepts" / "configs.md").read_text()
    table = page[page.index("| kind | what it chooses |"):page.index("Every encoder maps")]
    for row in re.findall(r"^\| (\w+) \|", table, re.MULTILINE)[1:]:  # every kind of the page's table is a kind here
        assert row in kinds, row
    assert "schedules" in kinds and "schedulers" not in kinds
    outputs = {}
    for word in ("schedules", "schedulers", "schedule", "Scheduler"):
        assert main(["list", word]) == 0
        outputs[word] = capsys.readouterr().out
    assert len(set(outputs.values())) == 1 and outputs["schedules"].startswith("schedules:\n")
    assert "cosine" in outputs["schedules"] and "one_cycle" in outputs["schedules"]
    for word, name in (("evaluations", "reconstruction"), ("metrics", "linear_probe"), ("evaluators", "knn"),
                       ("figures", "roc_curve"), ("observers", "gan_monitor"), ("backbones", "timm")):
        assert main(["list", word]) == 0 and f"  {name} " in capsys.readouterr().out, word
    assert main(["list", "schedulez"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown kind 'schedulez' at deepfeat list" in err and "Did you mean 'schedules'" in err


def test_the_kinds_table_matches_the_registries_and_each_kind_needs_only_its_package() -> None:
    """`deepfeat list` names the kinds without importing them, and `list KIND` imports only its modules: both hold."""
    from deepfeat.cli.reference import KINDS

    script = ("import importlib, json, sys\nfrom deepfeat.registry import all_registries\n"
              "for m in sys.argv[1:]: importlib.import_module(m)\n"
              "print(json.dumps({k: r.names() for k, r in all_registries().items()}))")
    jobs = {modules: list(modules) for modules, _ in KINDS.values()}
    jobs[("everything",)] = ["deepfeat.run", "deepfeat.api", "deepfeat.sklearn"]
    procs = {k: subprocess.Popen([sys.executable, "-c", script, *mods], stdout=subprocess.PIPE, text=True)
             for k, mods in jobs.items()}
    found = {k: json.loads(p.communicate(timeout=300)[0]) for k, p in procs.items()}
    everything = found[("everything",)]
    assert set(everything) == set(KINDS)
    for kind, (modules, _) in KINDS.items():
        assert found[modules].get(kind) == everything[kind], (kind, modules)


def test_help_config_gives_every_key_its_type_default_and_help(capsys) -> None:
    import dataclasses

    from deepfeat.cli import main
    from deepfeat.cli.reference import config_keys
    from deepfeat.config import Config

    assert main(["fit", "--help-config"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    config = Config()
    expected = set()
    for f in dataclasses.fields(config):
        section = getattr(config, f.name)
        expected |= {f"{f.name}.{g.name}" for g in dataclasses.fields(section)} if dataclasses.is_dataclass(section) else {f.name}
    assert expected <= set(lines)
    assert lines["training.epochs"].split()[1:6] == ["int", "|", "None", "null", "passes"]
    assert lines["training.precision"].split()[1:8] == ["auto", "|", "fp32", "|", "bf16", "|", "fp16"]
    assert "dead" in lines["diagnostics.window"]  # help declared with the key (deepfeat.schema.key)
    rows = list(config_keys())
    assert all(len(help_) > 10 for *_, help_ in rows)


def test_every_option_and_argument_has_help() -> None:
    import argparse

    from deepfeat.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in [("deepfeat", parser), *sub.choices.items()]:
        for action in p._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                assert action.help, f"{name} {action.option_strings or action.dest}"


def test_every_help_example_parses_and_names_files_that_exist() -> None:
    import shlex

    from deepfeat.cli import EXAMPLES, build_parser

    repo = Path(__file__).resolve().parents[1]
    for command, example in EXAMPLES.items():
        words = shlex.split(example)
        args = build_parser().parse_args(words[1:])
        assert args.command == command
        for word in words:
            if word.endswith(".yaml"):
                assert (repo / word).is_file(), word


@pytest.mark.slow
def test_every_help_example_runs_as_written(tmp_path) -> None:
    """The examples of `deepfeat CMD --help`, in a folder with the example configs and the runs they name."""
    import shlex

    from deepfeat.cli import EXAMPLES

    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "examples").symlink_to(repo / "examples")
    for run, config in (("dae", "digits_denoising"), ("ae", "digits_autoencoder"), ("vae", "digits_vae")):
        r = deepfeat("fit", "-c", f"examples/configs/{config}.yaml", "--set", "training.epochs=1", "--set",
                     "logging.plots=false", "--set", "logging.report=false", "--out", f"runs/{run}", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    for command in ("fit", *[c for c in EXAMPLES if c != "fit"]):  # fit first: the others use its run
        r = deepfeat(*shlex.split(EXAMPLES[command])[1:], cwd=tmp_path)
        if command == "resume":  # the example's run finished: resume refuses it, in one line
            assert r.returncode == 2 and "already finished" in r.stderr, r.stderr
        else:
            assert r.returncode == 0, (command, r.stderr)


def test_help_and_list_do_not_import_torch() -> None:
    """`deepfeat --help` and `deepfeat list` answer at once (issue 16: <= 1.5 s): neither may import torch."""
    script = ("import contextlib, io, sys\nfrom deepfeat.cli import main\n"
              "with contextlib.redirect_stdout(io.StringIO()):\n"
              "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
              "    main(['list'])\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy', 'sklearn', 'matplotlib')))")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", r.stdout[:300]
