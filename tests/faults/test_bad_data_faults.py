"""Bad input data is one line naming the file (or the sample), never a traceback: damaged images and
recordings, text that is not UTF-8, ragged or object arrays, links out of a data root, ``--out`` under a file."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import deepfeat
from deepfeat.cli import main
from deepfeat.data import load_dataset
from deepfeat.errors import DataError

sf = pytest.importorskip("soundfile", reason="audio needs the 'audio' extra: pip install 'deepfeat[audio]'")


def _cut(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _images(root: Path, per_class: int = 4, suffix: str = "jpg") -> Path:
    for name, colour in (("blue", (0, 0, 200)), ("red", (200, 0, 0))):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (10 + i, 10), colour).save(root / name / f"{i}.{suffix}")
    return root


def _recordings(root: Path, per_class: int = 4) -> Path:
    for name, freq in (("high", 1500.0), ("low", 200.0)):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            t = np.arange(4000) / 8000
            sf.write(root / name / f"{i}.wav", (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 8000)
    return root


def _one_line(message: str, *parts: str) -> None:
    assert "\n" not in message and all(part in message for part in parts), message


def _load(spec: dict[str, Any]) -> Any:
    return load_dataset(spec, val_fraction=0.0, test_fraction=0.0)


def test_a_truncated_jpeg_in_an_image_folder_names_the_file_and_the_skip_setting(tmp_path: Path) -> None:
    bad = _cut(_images(tmp_path / "img") / "red" / "2.jpg")
    with pytest.raises(DataError) as err:
        _load({"name": "image_folder", "root": str(tmp_path / "img"), "size": 8})
    _one_line(str(err.value), str(bad), "truncated", "data.on_error: skip")


def test_a_text_file_named_jpg_is_not_an_image(tmp_path: Path) -> None:
    bad = _images(tmp_path / "img") / "blue" / "9.jpg"
    bad.write_text("not an image at all")
    with pytest.raises(DataError) as err:
        _load({"name": "image_folder", "root": str(tmp_path / "img"), "size": 8})
    _one_line(str(err.value), str(bad), "cannot identify as an image")


def test_cli_fit_on_an_image_folder_with_a_bad_file_exits_2_with_one_line(tmp_path: Path, tiny, capsys) -> None:
    bad = _cut(_images(tmp_path / "img") / "red" / "0.jpg")
    tiny["data"] = {"name": "image_folder", "root": str(tmp_path / "img"), "size": 8}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny))
    assert main(["fit", "-c", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: image file {bad} at data.root:") and err.count("\n") == 1


def test_on_error_skip_leaves_bad_images_out_and_records_them(tmp_path: Path, caplog) -> None:
    root = _images(tmp_path / "img")
    cut, text = _cut(root / "red" / "1.jpg"), root / "blue" / "3.jpg"
    text.write_text("not an image")
    with caplog.at_level(logging.WARNING, logger="deepfeat"):
        bundle = _load({"name": "image_folder", "root": str(root), "size": 8, "on_error": "skip"})
    assert len(bundle.train) == 6 and bundle.info.skipped == sorted([str(text), str(cut)])
    assert "skipped 2 of 8 files" in caplog.text
    x, _ = next(bundle.train.batches(6))  # every kept image decodes
    assert x.shape == (6, 3, 8, 8)


def test_the_skipped_files_are_in_the_run_results(tmp_path: Path, tiny) -> None:
    import json

    bad = _cut(_images(tmp_path / "img", per_class=6) / "blue" / "4.jpg")
    tiny["data"] = {"name": "image_folder", "root": str(tmp_path / "img"), "size": 8, "on_error": "skip"}
    tiny["training"]["epochs"] = 1
    deepfeat.fit(tiny, out=tmp_path / "run")
    assert json.loads((tmp_path / "run" / "results.json").read_text())["data"]["skipped"] == [str(bad)]


@pytest.mark.parametrize("workers", [0, 1])
def test_an_image_damaged_after_the_check_fails_naming_it_when_it_is_read(tmp_path: Path, workers: int) -> None:
    root = _images(tmp_path / "img", suffix="png")
    bundle = _load({"name": "image_folder", "root": str(root), "size": 8, "num_workers": workers})
    _cut(root / "blue" / "0.png", 0.3)
    with pytest.raises(DataError) as err:
        list(bundle.train.batches(8))
    _one_line(str(err.value), str(root / "blue" / "0.png"))


def test_a_wav_cut_inside_its_data_chunk_is_refused_or_skipped(tmp_path: Path) -> None:
    root = _recordings(tmp_path / "tones")
    bad = _cut(root / "low" / "1.wav")
    spec = {"name": "audio_folder", "root": str(root), "sample_rate": 8000, "duration": 0.5}
    with pytest.raises(DataError) as err:
        _load(spec)
    _one_line(str(err.value), str(bad), "truncated", "data.on_error: skip")
    bundle = load_dataset({**spec, "on_error": "skip"})  # auto val_fraction, as a config without one
    assert bundle.info.skipped == [str(bad)] and len(bundle.train) + len(bundle.test) == 7


def test_on_error_is_checked_like_every_other_data_key(tmp_path: Path) -> None:
    from deepfeat.config import load_config
    from deepfeat.errors import ConfigError

    data = {"name": "image_folder", "root": str(tmp_path)}
    assert load_config({"data": {**data, "on_error": "skip"}}).data["on_error"] == "skip"
    with pytest.raises(ConfigError, match="data.on_error: expected .*got str 'skp'. Did you mean 'skip'"):
        load_config({"data": {**data, "on_error": "skp"}})
    with pytest.raises(ConfigError, match="Did you mean 'on_error'"):
        load_config({"data": {**data, "on_eror": "skip"}})


def test_invalid_utf8_in_a_text_folder_names_the_file_and_line(tmp_path: Path) -> None:
    for name in ("ham", "spam"):
        (tmp_path / "texts" / name).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "texts" / name / f"{i}.txt").write_text(f"message {i} of {name}\n")
    bad = tmp_path / "texts" / "spam" / "1.txt"
    bad.write_bytes("first line\nprix: 5 \u20ac\n".encode("utf-8") + b"caf\xe9 latin-1\n")
    with pytest.raises(DataError) as err:
        _load({"name": "text_folder", "root": str(tmp_path / "texts")})
    _one_line(str(err.value), f"{bad}:3", "expected UTF-8", "b'\\xe9'")


def test_invalid_utf8_in_a_text_csv_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "texts.csv"
    path.write_bytes(b"text,label\nhello,ham\nwin \xff now,spam\n")
    with pytest.raises(DataError) as err:
        _load({"name": "text_csv", "path": str(path)})
    _one_line(str(err.value), f"{path}:3", "expected UTF-8")


def test_fit_on_a_ragged_list_of_arrays_says_which_shapes_it_found(tmp_path: Path, tiny) -> None:
    samples = [np.zeros((1, 8, 8))] * 3 + [np.zeros((1, 8, 9))]
    with pytest.raises(DataError) as err:
        deepfeat.fit(tiny, data=samples, out=tmp_path / "run")
    _one_line(str(err.value), "expected samples of one shape", "sample 0 of shape (1, 8, 8)",
              "sample 3 of shape (1, 8, 9)")


class _Ragged(torch.utils.data.Dataset):
    """Eight labelled vectors of length 4, and one of length 5 (index 8)."""

    def __len__(self) -> int:
        return 9

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.ones(5 if i == 8 else 4), i % 2


def test_fit_on_a_ragged_dataset_names_the_sample_and_its_shape(tmp_path: Path, tiny) -> None:
    with pytest.raises(DataError) as err:
        deepfeat.fit(tiny, data=_Ragged(), out=tmp_path / "run")
    _one_line(str(err.value), "sample 8 of the dataset", "expected shape (4,) like sample 0, got (5,)")


def test_embed_of_an_object_npy_exits_2_with_its_dtype(finished_run: Path, tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "x.npy", np.array([[1.0, "a"], [None, 2]], dtype=object), allow_pickle=True)
    assert main(["embed", str(finished_run), "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "z.npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "x.npy") in err and "got dtype object" in err
    assert not (tmp_path / "z.npy").exists()


def test_fit_out_under_a_regular_file_exits_2_with_one_line(tmp_path: Path, tiny, capsys) -> None:
    (tmp_path / "somefile.txt").write_text("notes")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny))
    assert main(["fit", "-c", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "somefile.txt" / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path / 'somefile.txt'}, which is not a folder" in err


def test_embed_out_under_a_regular_file_exits_2_with_one_line(finished_run: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "somefile.txt").write_text("notes")
    assert main(["embed", str(finished_run), "--data", "digits", "--out", str(tmp_path / "somefile.txt" / "z.npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path / 'somefile.txt'}, which is not a folder" in err


def test_a_jsonl_line_that_is_not_an_object_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "texts.jsonl"
    path.write_text('{"text": "hi", "label": "ham"}\n\n{"text": "win", "label": "spam"\n')
    with pytest.raises(DataError) as err:
        _load({"name": "text_csv", "path": str(path)})
    _one_line(str(err.value), f"{path}:3", "invalid JSON")


def test_a_class_folder_linked_outside_the_root_is_refused_unless_followed(tmp_path: Path) -> None:
    root, outside = _images(tmp_path / "root"), _images(tmp_path / "elsewhere")
    os.symlink(root / "red", root / "crimson")  # links inside the root are fine
    os.symlink(root / "red" / "0.jpg", root / "blue" / "also_red.jpg")
    os.symlink(outside / "red", root / "green")
    spec = {"name": "image_folder", "root": str(root), "size": 8}
    with pytest.raises(DataError) as err:
        _load(spec)
    _one_line(str(err.value), f"symbolic link {root / 'green'}", f"got {outside / 'red'}", "data.follow_symlinks: true")
    assert _load({**spec, "follow_symlinks": True}).info.class_names == ["blue", "crimson", "green", "red"]
    (root / "green").unlink()
    assert len(_load(spec).train) == 13


def test_a_file_linked_to_etc_passwd_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    root = _images(tmp_path / "root")
    os.symlink("/etc/passwd", root / "blue" / "passwd.jpg")
    with pytest.raises(DataError) as err:
        _load({"name": "image_folder", "root": str(root), "size": 8})
    _one_line(str(err.value), str(root / "blue" / "passwd.jpg"), "got /etc/passwd")


def test_audio_and_text_folders_keep_to_their_root_too(tmp_path: Path) -> None:
    root, outside = _recordings(tmp_path / "tones"), _recordings(tmp_path / "other")
    os.symlink(outside / "low" / "0.wav", root / "low" / "far.wav")
    with pytest.raises(DataError, match="symbolic link .*far.wav"):
        _load({"name": "audio_folder", "root": str(root), "sample_rate": 8000})
    (tmp_path / "texts" / "ham").mkdir(parents=True)
    (tmp_path / "notes.txt").write_text("private")
    os.symlink(tmp_path / "notes.txt", tmp_path / "texts" / "ham" / "0.txt")
    with pytest.raises(DataError, match="symbolic link .*0.txt"):
        _load({"name": "text_folder", "root": str(tmp_path / "texts")})
