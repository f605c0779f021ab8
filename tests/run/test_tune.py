"""deepfeat tune: the space is checked before any trial; trials are run folders chosen on validation; pruned runs
say so; a study continues where it stopped, a killed process's trial is run again, two processes share a study."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from deepfeat.cli import main
from deepfeat.config import load_config
from deepfeat.run.search_space import read_space

optuna = pytest.importorskip("optuna")
from deepfeat.run.tune import tune  # noqa: E402  (after the skip: it needs optuna)

SRC = Path(__file__).resolve().parents[2] / "src"
TINY = {"name": "tiny", "data": {"name": "digits", "val_fraction": 0.2, "test_fraction": 0.2},
        "encoder": {"name": "mlp", "hidden": [16]}, "optimizer": {"name": "adam", "lr": 0.01},
        "training": {"epochs": 2, "batch_size": 128, "progress": "none", "monitor": "val/acc", "mode": "max"},
        "evaluation": {"embedding_plots": [], "protocol": ["knn"], "knn_k": [5]},
        "logging": {"plots": False, "report": False}}
SPACE = {"optimizer.lr": {"low": 1e-3, "high": 0.1, "log": True}, "encoder.hidden": {"choices": [[8], [32]]}}


def _results(folder: str | Path) -> dict:
    return json.loads((Path(folder) / "results.json").read_text())


@pytest.mark.parametrize(("space", "message"), [
    ("encoder.dropoutt: {low: 0.0, high: 0.5}", "unknown key 'encoder.dropoutt'"),
    ("optimizer.lr: {low: 0.01, high: 0.01}", "empty range, low and high are both 0.01"),
    ("encoder.hidden: {choices: [[16]]}", "expected at least two different choices, got 1"),
    ("optimizer.lr: {low: 0.1, high: 0.01}", "expected low <= high, got low 0.1 > high 0.01"),
    ("optimizer.lr: {low: 0.0, high: 0.1, log: true}", "a log range expected low > 0, got low 0.0"),
    ("optimizer.lr: {low: 0.001, hihg: 0.1}", "unknown setting 'hihg'"),
    ("optimizer.lr: {low: -1.0, high: 0.1}", "optimizer.lr"),  # the config refuses a negative learning rate
])
def test_a_bad_space_is_one_line_and_exit_2_before_any_trial(space, message, tmp_path, capsys) -> None:
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    (tmp_path / "space.yaml").write_text(space + "\n")
    code = main(["tune", str(tmp_path / "tiny.yaml"), "--space", str(tmp_path / "space.yaml"), "--out", str(tmp_path / "st")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert message in err
    assert not (tmp_path / "st").exists()  # nothing ran


def test_unknown_key_suggests_the_close_match() -> None:
    from deepfeat.errors import ConfigError
    from deepfeat.run.search_space import check_space

    with pytest.raises(ConfigError, match="Did you mean 'dropout'"):
        check_space(read_space({"encoder.dropoutt": {"low": 0.0, "high": 0.5}}), load_config(TINY))


def test_tune_help_imports_neither_optuna_nor_mlflow_nor_torch() -> None:
    script = ("import contextlib, io, sys\nfrom deepfeat.cli import main\n"
              "with contextlib.redirect_stdout(io.StringIO()):\n"
              "    try:\n        main(['tune', '--help'])\n    except SystemExit:\n        pass\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'optuna', 'mlflow', 'plotly')))")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False,
                       env={**os.environ, "PYTHONPATH": str(SRC)})
    assert r.returncode == 0 and r.stdout.strip() == "[]", (r.stdout[:300], r.stderr[-500:])


def test_tune_chooses_on_validation_writes_its_outputs_and_continues(tmp_path) -> None:
    result = tune(TINY, SPACE, trials=2, seed=0, out=tmp_path / "st", pruner="none")
    assert [r["number"] for r in result.rows] == [0, 1] and all(r["state"] == "complete" for r in result.rows)
    vals = {r["number"]: _results(r["run_dir"])["fit"]["best"]["val/acc"] for r in result.rows}  # every trial a run folder
    assert [r["value"] for r in result.rows] == pytest.approx([vals[n] for n in range(2)])
    assert result.best_value == max(vals.values()) and vals[result.best_trial] == result.best_value
    best_run = _results(result.rows[result.best_trial]["run_dir"])
    assert result.best_test == pytest.approx(best_run["test"])  # test metrics reported for the chosen trial
    # best.yaml is the chosen trial's config, ready to run.
    chosen = load_config(result.best_yaml)
    assert chosen == load_config(Path(result.rows[result.best_trial]["run_dir"]) / "config.yaml")
    assert [r["number"] for r in csv.DictReader(result.table.open())] == ["0", "1"]
    page = result.report.read_text()
    assert "Optimization history" in page and "Parameter importances" in page and "Plotly.newPlot" in page
    # The same call again continues the study up to 3 finished trials; the first two are kept as they were.
    again = tune(TINY, SPACE, trials=3, seed=0, out=tmp_path / "st", pruner="none")
    assert [r["number"] for r in again.rows] == [0, 1, 2]
    assert [r["value"] for r in again.rows[:2]] == [r["value"] for r in result.rows]
    assert len({r["run_dir"] for r in again.rows}) == 3


def test_a_pruned_trial_stops_early_and_its_run_folder_says_pruned(tmp_path) -> None:
    always = optuna.pruners.ThresholdPruner(lower=2.0)  # val/acc is never above 2: prune at the first report
    result = tune(TINY, SPACE, trials=1, seed=0, out=tmp_path / "st", pruner=always)
    assert [r["state"] for r in result.rows] == ["pruned"] and result.best_config is None
    saved = _results(result.rows[0]["run_dir"])
    assert saved["status"] == "pruned" and saved["error"]["type"] == "RunPruned" and saved["error"]["epoch"] == 1
    assert "pruned after epoch 1" in saved["error"]["message"]


def test_a_killed_process_trial_is_found_by_its_heartbeat_and_run_again(tmp_path) -> None:
    """A trial left RUNNING by a process that died (simulated: asked, one heartbeat, never told) is marked failed
    when the study continues, and run again with the same values; nothing is lost."""
    (tmp_path / "st").mkdir()
    url = f"sqlite:///{(tmp_path / 'st' / 'study.db').resolve()}"
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        store = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(study_name="tiny-tune", storage=store, direction="maximize")
    dead = study.ask()
    drawn = {p.key: p.suggest(dead) for p in read_space(SPACE)}
    store.record_heartbeat(dead._trial_id)
    time.sleep(4.0)  # past the 2 s grace period by more than the 1 s resolution of SQLite timestamps
    result = tune(TINY, SPACE, trials=1, seed=0, out=tmp_path / "st", pruner="none", heartbeat=(1, 2))
    states = {r["number"]: r["state"] for r in result.rows}
    assert states == {dead.number: "fail", dead.number + 1: "complete"}
    retry = next(t for t in result.study.trials if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == dead.number)
    assert retry.state.name == "COMPLETE"
    assert {p.key: p.value(retry.params[p.key]) for p in read_space(SPACE)} == drawn


# -- real processes (slow): SIGKILL mid-study, then start again; two processes on one study -----------------------

WORKER = """
import sys
from deepfeat.run.tune import tune
tune({config}, {space}, trials={trials}, out=sys.argv[1], pruner="none", heartbeat=(1, 2))
"""


def _worker(tmp_path: Path, trials: int) -> subprocess.Popen:
    code = WORKER.format(config=repr(TINY), space=repr(SPACE), trials=trials)
    return subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "st")], env={**os.environ, "PYTHONPATH": str(SRC)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _study(tmp_path: Path) -> "optuna.Study":
    return optuna.load_study(study_name="tiny-tune", storage=f"sqlite:///{tmp_path / 'st' / 'study.db'}")


@pytest.mark.slow
def test_killing_tune_mid_study_and_starting_again_continues_it(tmp_path) -> None:
    proc = _worker(tmp_path, trials=4)
    deadline = time.time() + 600
    while time.time() < deadline:  # kill it while its second trial runs (one is complete)
        time.sleep(0.5)
        if (tmp_path / "st" / "study.db").exists():
            states = [t.state.name for t in _study(tmp_path).trials]
            if states.count("COMPLETE") >= 1 and "RUNNING" in states:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = [t for t in _study(tmp_path).trials if t.state.name == "RUNNING"]
    assert len(killed) == 1
    time.sleep(4.0)  # its heartbeat goes stale (2 s grace + the 1 s resolution of SQLite timestamps)
    again = _worker(tmp_path, trials=4)
    assert again.wait(timeout=600) == 0, again.stderr.read()[-2000:]
    trials = _study(tmp_path).trials
    assert sum(t.state.name == "COMPLETE" for t in trials) == 4
    assert trials[killed[0].number].state.name == "FAIL"
    retry = [t for t in trials if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == killed[0].number]
    assert len(retry) == 1 and retry[0].params == killed[0].params and retry[0].state.name == "COMPLETE"


@pytest.mark.slow
def test_two_processes_on_one_study_run_distinct_trials(tmp_path) -> None:
    tune(TINY, SPACE, trials=1, out=tmp_path / "st", pruner="none")  # the study exists before both join
    a, b = _worker(tmp_path, trials=7), _worker(tmp_path, trials=7)
    for proc in (a, b):
        assert proc.wait(timeout=900) == 0, proc.stderr.read()[-2000:]
    trials = _study(tmp_path).trials
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert 7 <= len(complete) <= 8 and len(complete) == len(trials)  # none lost or failed; at most one extra
    folders = [t.user_attrs["run_dir"] for t in complete]
    assert len(set(folders)) == len(folders) and all(_results(f)["status"] == "completed" for f in folders)
    workers = {t.user_attrs["worker"] for t in complete[1:]}
    assert len(workers) == 2  # both processes ran trials
