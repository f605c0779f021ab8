"""deepfeat pack and data: shards: every sample, label and id kept; per-process shard runs; damaged shards refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import deepfeat
from deepfeat.cli import main
from deepfeat.data import load_dataset
from deepfeat.data.shard_files import shard_order
from deepfeat.errors import ConfigError, DataError
from deepfeat.run.pack import pack


def _images(root: Path, per_class: int = 12) -> Path:
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (10, 10, 3), dtype=np.uint8)).save(root / name / f"{i:02d}.png")
    return root


def test_pack_keeps_every_sample_its_label_and_its_row_id(tmp_path: Path) -> None:
    manifest = pack("digits", tmp_path / "sh", shard_rows=500)
    assert [s["count"] for s in manifest["shards"]] == [500, 500, 500, 297]
    raw = load_dataset("digits", val_fraction=0.0, test_fraction=0.0, normalize=False)
    got = load_dataset({"name": "shards", "root": str(tmp_path / "sh")}, val_fraction=0.0, test_fraction=0.0,
                       normalize=False)
    assert got.info.class_names == raw.info.class_names and got.info.kind == raw.info.kind
    xs, ys = zip(*got.train.batches(256))
    assert torch.equal(torch.cat(xs), raw.train.x) and torch.equal(torch.cat(ys), raw.train.y)
    assert got.train.dataset.ids == [str(i) for i in range(1797)]
    assert json.loads((tmp_path / "sh" / "manifest.json").read_text())["source"] == {"name": "digits"}


def test_each_process_reads_its_own_run_of_shards_and_every_sample_once() -> None:
    starts = np.array([0, 10, 20, 30, 40, 50, 60])  # 6 shards of 10 rows
    rows = np.arange(60)
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731 - every rank draws the epoch's order alike
    parts = [shard_order(starts, rows, True, gen(), rank, 2) for rank in range(2)]
    assert sorted(torch.cat(parts).tolist()) == list(range(60))
    shards = [set((p // 10).tolist()) for p in parts]
    assert len(shards[0]) == len(shards[1]) == 3 and not shards[0] & shards[1]
    runs = [p // 10 for p in parts]  # shard by shard: a reader never returns to a shard it left
    assert all(int((r[1:] != r[:-1]).sum()) == 2 for r in runs)
    assert not torch.equal(shard_order(starts, rows, True, torch.Generator().manual_seed(4)), torch.cat(parts))


def test_a_shard_changed_since_packing_fails_naming_it(tmp_path: Path) -> None:
    pack("iris", tmp_path / "sh", shard_rows=100)
    shard = tmp_path / "sh" / "shard-00001.arrow"
    data = bytearray(shard.read_bytes())
    data[-100] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(DataError, match="shard-00001.arrow at data.root: expected sha256"):
        load_dataset({"name": "shards", "root": str(tmp_path / "sh")})


def test_a_run_trained_on_packed_images_embeds_them_with_their_file_ids(tmp_path: Path) -> None:
    _images(tmp_path / "imgs")
    assert main(["pack", str(tmp_path / "imgs"), "--out", str(tmp_path / "sh"), "--shard-rows", "7"]) == 0
    cfg = {"data": {"name": "shards", "root": str(tmp_path / "sh"), "num_workers": 0},
           "encoder": {"name": "mlp", "hidden": [8]}, "training": {"epochs": 1, "batch_size": 8, "progress": "none"},
           "evaluation": {"protocol": [], "embedding_plots": []}, "logging": {"plots": False, "report": False}}
    run = deepfeat.fit(cfg, out=tmp_path / "run")
    out = deepfeat.embed(run.dir, str(tmp_path / "sh"), tmp_path / "f.csv")
    ids = [line.split(",")[0] for line in Path(out).read_text().splitlines()[1:]]
    assert ids == [f"{c}/{i:02d}.png" for c in ("cat", "dog") for i in range(12)]
    source = json.loads((tmp_path / "sh" / "manifest.json").read_text())["source"]
    assert (source["name"], source["size"], source["grayscale"]) == ("image_folder", 32, None)  # defaults recorded (grayscale: picked from the images)


def test_pack_refuses_a_folder_that_holds_shards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack("iris", tmp_path / "sh")
    assert main(["pack", "iris", "--out", str(tmp_path / "sh")]) == 2
    assert "expected a new or empty folder" in capsys.readouterr().err


def test_without_the_datasets_package_the_error_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deepfeat.extras.MODULES", {"shards": "not_a_module_here"})
    with pytest.raises(ConfigError, match=r"pip install 'deepfeat\[shards\]'"):
        pack("iris", tmp_path / "sh")
