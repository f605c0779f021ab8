"""The comparison runner: grid parsing, every combination x seed as a run, one table and one report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import yaml

import deepfeat
from deepfeat.cli import main
from deepfeat.run.compare import (
    compare,
    make_variants,
    parse_grid,
    summary_table,
    weight_stats,
    with_gap,
)
from deepfeat.config import CompareConfig

CONFIGS = Path(__file__).resolve().parents[2] / "examples" / "configs"
TINY = """
name: tiny
data: {name: digits}
encoder: {name: mlp, hidden: [16]}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 2, batch_size: 128, progress: none}
evaluation: {embedding_plots: [], protocol: [knn], knn_k: [5]}
logging: {plots: false, report: false}
"""
TINY_DICT = {**yaml.safe_load(TINY), "training": {"epochs": 2, "batch_size": 128, "progress": "none", "threads": 1}}


def test_parse_grid_reads_yaml_values_including_specs() -> None:
    grid = parse_grid(["optimizer.lr=0.1,0.01", "optimizer={name: sgd, lr: 0.1},{name: adam}", "encoder.norm=none,batch"])
    assert grid == {"optimizer.lr": [0.1, 0.01], "optimizer": [{"name": "sgd", "lr": 0.1}, {"name": "adam"}],
                    "encoder.norm": ["none", "batch"]}
    with pytest.raises(deepfeat.ConfigError, match="expected key=v1,v2"):
        parse_grid(["optimizer.lr"])


def test_variants_are_the_product_of_grid_and_named_variants() -> None:
    spec = CompareConfig(grid={"encoder.weight_init": [{"name": "normal", "std": 0.01}, "he_normal"]},
                         variants={"plain": {}, "l2": {"regularization": {"name": "l2"}}})
    variants = make_variants(spec)
    assert [v.label for v in variants] == ["plain weight_init=normal(std=0.01)", "l2 weight_init=normal(std=0.01)",
                                           "plain weight_init=he_normal", "l2 weight_init=he_normal"]
    assert variants[1].overrides == ['regularization={"name": "l2"}', 'encoder.weight_init={"name": "normal", "std": 0.01}']


def test_compare_cli_writes_the_table_curves_and_report(tmp_path, capsys) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    code = main(["compare", str(tmp_path / "tiny.yaml"), "--grid", "optimizer.lr=0.01,0.0001", "--seeds", "2",
                 "--out", str(tmp_path / "cmp")])
    assert code == 0
    out = capsys.readouterr().out
    assert "variant" in out and "lr=0.01" in out and "\u00b1" in out and "report:" in out
    root = tmp_path / "cmp"
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["lr=0.0001-s0", "lr=0.0001-s1", "lr=0.01-s0", "lr=0.01-s1", "plots"]
    rows = list(csv.DictReader((root / "compare.csv").open()))
    assert [r["variant"] for r in rows] == ["lr=0.01", "lr=0.0001"] and all(r["seeds"] == "2" for r in rows)
    acc = {r["variant"]: float(r["test/acc"].split(" ")[0]) for r in rows}
    assert acc["lr=0.01"] > acc["lr=0.0001"] + 0.2  # two epochs at lr 1e-4 barely move: the table must show it
    runs = json.loads((root / "compare.json").read_text())["runs"]
    assert {r["seed"] for r in runs} == {0, 1} and all(r["time_s"] > 0 for r in runs)
    html = (root / "report.html").read_text()
    assert "Results (mean" in html and "data:image/png;base64" in html and 'href="lr=0.01-s0/report.html"' in html


def test_a_failing_cell_is_shown_as_failed_and_the_others_complete(tmp_path) -> None:
    result = compare(TINY_DICT, grid={"optimizer": [{"name": "adam", "lr": 0.01}, {"name": "sgd", "lr": 1.0e30}]},
                     out=tmp_path / "cmp")
    ok, bad = result.rows
    assert (ok["failed"], bad["failed"]) == (0, 1)
    header, body = summary_table(result.rows)
    assert header[:3] == ["variant", "seeds", "failed"]
    assert body[1][2] == "1/1" and body[1][header.index("test/acc")] == "failed"
    assert float(body[0][header.index("test/acc")]) > 0.5  # the healthy cell is still reported
    assert {"final train-val acc gap", "weight L2 norm", "share |w|<0.001"} <= set(header)
    failed = next(r for r in result.runs if r["status"] == "failed")
    assert failed["error"]["type"] == "TrainingError" and failed["error"]["epoch"] == 1
    html = result.report.read_text()
    assert "Failed runs" in html and "non-finite losses in a row" in html
    rows = list(csv.reader((tmp_path / "cmp" / "compare.csv").open()))
    assert rows[2][:3] == [bad["variant"], "1", "1/1"]


def test_weight_stats_and_the_train_val_gap() -> None:
    layer = torch.nn.Linear(4, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 4.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1e-4]]))
        layer.bias.fill_(100.0)  # biases are not weights: they change neither number
    assert weight_stats(layer) == {"weight L2 norm": pytest.approx(5.0), "share |w|<0.001": 0.75}
    assert with_gap({"train/acc": 1.0, "val/acc": 0.75})["train-val acc gap"] == 0.25
    assert "train-val acc gap" not in with_gap({"train/acc": 1.0})


def test_a_bad_grid_key_fails_before_any_run(tmp_path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert main(["compare", str(tmp_path / "tiny.yaml"), "--grid", "encoder.hiden=[8]", "--out", str(tmp_path / "c")]) == 2
    assert not (tmp_path / "c").exists()
    assert main(["compare", str(tmp_path / "tiny.yaml"), "--out", str(tmp_path / "c")]) == 2


@pytest.mark.parametrize("name", ["compare_activations_init", "compare_regularizers", "compare_optimizers"])
def test_shipped_comparison_configs_are_valid_configs_with_a_grid(name) -> None:
    cfg = deepfeat.load_config(CONFIGS / f"{name}.yaml")
    variants = make_variants(cfg.compare)
    assert len(variants) >= 4
    for v in variants:
        deepfeat.load_config(cfg.to_dict(), v.overrides)
