"""Extending deepfeat from outside: ``deepfeat --import MODULE`` and installed ``deepfeat.plugins`` entry points."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODULE = '''
import deepfeat
from torch import nn

@deepfeat.register_encoder("{name}")
def build(width: int = 4):
    """A plugin's encoder."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, width))
'''


def _deepfeat(*argv: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deepfeat", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env)


def _installed_plugin(site: Path, body: str) -> None:
    """A package installed in ``site`` the way pip leaves it: the module and its dist-info with the entry point."""
    (site / "plug_nets.py").write_text(body)
    info = site / "plug_nets-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plug-nets\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[deepfeat.plugins]\nplug_nets = plug_nets\n")


def _env_with(site: Path) -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}


def test_an_installed_plugin_registers_its_encoder_without_any_import(tmp_path: Path) -> None:
    _installed_plugin(tmp_path, MODULE.format(name="plug_mlp"))
    listed = _deepfeat("list", "encoders", cwd=tmp_path, env=_env_with(tmp_path))
    assert listed.returncode == 0 and "plug_mlp" in listed.stdout and "A plugin's encoder." in listed.stdout
    checked = _deepfeat("config", "check", "--set", "data=digits", "--set", "encoder={name: plug_mlp, width: 3}",
                        "-c", str(Path(__file__).parents[1] / "examples/configs/digits_mlp.yaml"), cwd=tmp_path,
                        env=_env_with(tmp_path))
    assert checked.returncode == 0, checked.stderr


def test_a_broken_plugin_is_named_with_its_package(tmp_path: Path) -> None:
    _installed_plugin(tmp_path, "raise RuntimeError('half-installed')\n")
    done = _deepfeat("list", "encoders", cwd=tmp_path, env=_env_with(tmp_path))
    assert done.returncode == 2
    assert "plugin 'plug_nets'" in done.stderr and "plug-nets" in done.stderr and "half-installed" in done.stderr


def test_import_takes_a_file_path_and_reports_what_failed(tmp_path: Path) -> None:
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "file_nets.py").write_text(MODULE.format(name="file_mlp"))
    ok = _deepfeat("--import", "nets/file_nets.py", "list", "encoders", cwd=tmp_path)
    assert ok.returncode == 0 and "file_mlp" in ok.stdout
    for spec, expected in [("no_such_module", "no module named 'no_such_module'"),
                           ("nets/missing.py", "no such file"),
                           ("bad_nets", "ZeroDivisionError")]:
        (tmp_path / "bad_nets.py").write_text("1 / 0\n")
        done = _deepfeat("--import", spec, "list", "encoders", cwd=tmp_path)
        assert done.returncode == 2 and expected in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_list_reads_names_from_a_cache_without_importing_torch(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    probe = ("import sys; from deepfeat.cli.reference import names_text; print(names_text('schedules')); "
             "print('torch imported:', 'torch' in sys.modules)")
    first = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    second = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    listing = first.stdout.rsplit("torch imported", 1)[0]
    assert "cosine" in listing and second.stdout.rsplit("torch imported", 1)[0] == listing
    assert "torch imported: True" in first.stdout and "torch imported: False" in second.stdout
    assert len(list((tmp_path / "cache" / "deepfeat").glob("names-*.json"))) == 1
