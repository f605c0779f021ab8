"""The comparison runner: grid parsing, every combination x seed as a run, one table and one report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import deepfeat
from deepfeat.cli import main
from deepfeat.compare import make_variants, parse_grid
from deepfeat.config import CompareConfig

CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "configs"
TINY = """
name: tiny
data: {name: digits}
encoder: {name: mlp, hidden: [16]}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 2, batch_size: 128, progress: none}
evaluation: {embedding_plots: [], protocol: [knn], knn_k: [5]}
logging: {plots: false, report: false}
"""


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
