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


def test_embed_csv_gives_back_the_npy_features_exactly(finished_run, tmp_path) -> None:
    import numpy as np

    for suffix in (".npy", ".csv"):
        assert main(["embed", str(finished_run), "--data", "digits", "--out", str(tmp_path / f"z{suffix}")]) == 0
    z = np.load(tmp_path / "z.npy")
    from_csv = np.loadtxt(tmp_path / "z.csv", delimiter=",", skiprows=1, dtype=np.float64)[:, 1:].astype(np.float32)
    assert z.dtype == np.float32 and z.shape == (1797, 16)
    np.testing.assert_array_equal(from_csv, z)  # 9 significant digits: every float32 survives the text round trip


def test_embed_of_a_npy_or_csv_file_streams_it_and_matches_the_features_in_memory(finished_run, tmp_path) -> None:
    """The file path (memory-mapped .npy, chunked .csv) gives the features `Run.embed` gives on the array."""
    import numpy as np

    import deepfeat

    x = np.random.default_rng(0).random((10000, 1, 8, 8)).astype(np.float32) * 16  # > one 8192-sample chunk
    np.save(tmp_path / "x.npy", x)
    np.savetxt(tmp_path / "x.csv", x.reshape(len(x), -1)[:50], delimiter=",", fmt="%.9g")
    expected = deepfeat.run.runs.load(finished_run).embed(x)
    assert main(["embed", str(finished_run), "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "z.npy")]) == 0
    assert main(["embed", str(finished_run), "--data", str(tmp_path / "x.csv"), "--out", str(tmp_path / "c.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "z.npy"), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "c.npy"), expected[:50], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("report", [False, True])
def test_the_report_line_is_printed_only_when_the_report_was_written(tmp_path, tiny, report: bool, capsys) -> None:
    import yaml

    tiny["logging"]["report"] = report
    tiny["training"]["epochs"] = 1
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tiny))
    run = tmp_path / "run"
    assert main(["fit", "-c", str(tmp_path / "tiny.yaml"), "--out", str(run)]) == 0
    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    assert (run / "report.html").is_file() is report
    assert out.count(f"report:     {run / 'report.html'}\n") == (2 if report else 0)
    assert ("report:" in out) is report


def test_embed_on_data_with_nan_does_not_talk_about_training(finished_run, tmp_path, capsys) -> None:
    import numpy as np

    x = np.random.default_rng(0).random((10, 1, 8, 8))
    x[3, 0, 2, 2] = np.nan
    np.save(tmp_path / "x.npy", x)
    assert main(["embed", str(finished_run), "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "z.npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NaN or inf" in err and "sample 3" in err
    assert "before training" not in err
    assert not (tmp_path / "z.npy").exists()


def test_an_unknown_encoder_activation_is_reported_at_encoder_activation(tmp_path, tiny, capsys) -> None:
    import yaml

    tiny["encoder"]["activation"] = "relux"
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tiny))
    assert main(["fit", "-c", str(tmp_path / "tiny.yaml"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown activation 'relux' at encoder.activation: expected one of ")
    assert err.endswith("Did you mean 'relu'?\n") and not (tmp_path / "run").exists()
