"""Checkpoint faults: changed, empty, truncated or malicious files, a full disk, leftover temporaries."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest
import torch

from deepfeat.engine.checkpoint import (
    atomic_write,
    checksum_path,
    load_checkpoint,
    remove_stale_temps,
    save_checkpoint,
    verify_checksum,
    write_checksum,
)
from deepfeat.errors import CheckpointError


def _state(epoch: int) -> dict:
    return {"model": {"w": torch.full((4,), float(epoch))}, "epoch": epoch}


def test_checkpoint_gets_a_sha256_sidecar_that_sha256sum_reads(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "last.pt"
    save_checkpoint(path, _state(1))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert checksum_path(path).read_text() == f"{digest}  last.pt\n"
    assert verify_checksum(path) is True and load_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "last.pt.sha256"]


def test_changed_checkpoint_is_refused_and_names_the_other_one(tmp_path: Path) -> None:
    last, best = tmp_path / "last.pt", tmp_path / "best.pt"
    save_checkpoint(last, _state(2))
    save_checkpoint(best, _state(1))
    data = bytearray(last.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit in the middle: torch might still load it
    last.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(last)
    message = str(err.value)
    assert message.startswith(f"checkpoint {last} failed its checksum (the file changed after it was written")
    assert message.endswith(f"Resume from {best} or retrain.")
    best.unlink()
    with pytest.raises(CheckpointError, match="Retrain, or restore the file from a copy"):
        load_checkpoint(last)


def test_checkpoint_without_a_sidecar_loads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    torch.save(_state(3), path)  # written by a deepfeat version without sidecars
    assert verify_checksum(path) is False
    assert load_checkpoint(path)["epoch"] == 3


def test_empty_checkpoint_is_named_empty(tmp_path: Path) -> None:
    (tmp_path / "best.pt").write_bytes(b"")
    save_checkpoint(tmp_path / "last.pt", _state(1))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "best.pt")
    assert str(err.value) == (f"checkpoint {tmp_path / 'best.pt'} is empty (0 bytes): it was cut off while being "
                              f"written. Resume from {tmp_path / 'last.pt'} or retrain.")


def test_truncated_checkpoint_is_named_truncated(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    torch.save(_state(1), path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointError, match=r"^checkpoint .*last.pt is truncated or not a checkpoint \(300 bytes"):
        load_checkpoint(path)


class _Payload:
    """Unpickling this calls os.mkdir: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


@pytest.mark.parametrize("force_unsafe", [False, True])
def test_checkpoint_holding_code_is_refused_without_weights_only_advice(tmp_path: Path, monkeypatch, force_unsafe) -> None:
    if force_unsafe:  # torch's switch that turns weights_only off where the call site did not set it
        monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "pwned"
    path = tmp_path / "last.pt"
    torch.save({"model": _Payload(marker)}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert message.startswith(f"checkpoint {path} holds objects other than tensors and plain data")
    assert "refuses to unpickle code" in message and re.search(r"\(\w+\.mkdir\)", message)  # the global it names
    assert "weights_only" not in message and "\n" not in message
    assert not marker.exists()


def test_atomic_write_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.txt", lambda tmp: Path(tmp).write_text("x"))
        save_checkpoint(tmp_path / "last.pt", _state(1))
        os.umask(0o077)
        atomic_write(tmp_path / "private.txt", lambda tmp: Path(tmp).write_text("x"))
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "last.pt").stat().st_mode & 0o777 == 0o644
    assert checksum_path(tmp_path / "last.pt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "private.txt").stat().st_mode & 0o777 == 0o600


def test_remove_stale_temps_removes_only_atomic_write_leftovers(tmp_path: Path) -> None:
    leftovers = [tmp_path / ".last.pt.k2x_9abc.tmp", tmp_path / "checkpoints" / ".metrics.csv.abcdefgh.tmp"]
    kept = [tmp_path / ".hidden.tmp", tmp_path / "notes.tmp", tmp_path / "last.pt", tmp_path / ".last.pt.short.tmp"]
    for p in leftovers + kept:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    assert remove_stale_temps(tmp_path, older_than_s=3600) == []  # all just written: a live writer may own them
    assert remove_stale_temps(tmp_path, recursive=False) == [leftovers[0]]
    assert remove_stale_temps(tmp_path) == [leftovers[1]]
    assert all(p.exists() for p in kept) and not any(p.exists() for p in leftovers)
    assert remove_stale_temps(tmp_path / "missing") == []


def _fails_after_writing(error: BaseException):
    def fake_save(obj, f, *args, **kwargs) -> None:
        Path(f).write_bytes(b"partial")  # the temporary file is half written when the disk fills
        raise error

    return fake_save


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, "No space left on device"),
    RuntimeError("[enforce fail at inline_container.cc:626] . PytorchStreamWriter failed writing file data/0: "
                 "file write failed"),
])
def test_full_disk_is_one_error_and_leaves_the_previous_checkpoint(tmp_path: Path, monkeypatch, error) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(path, _state(1))
    before = path.read_bytes(), checksum_path(path).read_bytes()
    monkeypatch.setattr(torch, "save", _fails_after_writing(error))
    with pytest.raises(CheckpointError) as err:
        save_checkpoint(path, _state(2))
    message = str(err.value)
    assert message.startswith(f"could not write checkpoint {path}: no space left on device (")
    assert "bytes free). Free space or set training.checkpoint_every higher." in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "last.pt.sha256"]  # no temporary left
    assert (path.read_bytes(), checksum_path(path).read_bytes()) == before
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1


def test_other_write_errors_name_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(torch, "save", _fails_after_writing(PermissionError(errno.EACCES, "Permission denied")))
    with pytest.raises(CheckpointError, match=r"could not write checkpoint .*last.pt: Permission denied\. Check"):
        save_checkpoint(tmp_path / "last.pt", _state(1))
    monkeypatch.setattr(torch, "save", _fails_after_writing(RuntimeError("not about the disk")))
    with pytest.raises(RuntimeError, match="not about the disk"):
        save_checkpoint(tmp_path / "last.pt", _state(1))


def test_checksum_helpers_work_for_any_file(tmp_path: Path) -> None:
    model = tmp_path / "model.safetensors"
    model.write_bytes(b"weights")
    digest = write_checksum(model)
    assert checksum_path(model).read_text().split() == [digest, "model.safetensors"]
    assert verify_checksum(model, what="model") is True
    model.write_bytes(b"weighTs")
    with pytest.raises(CheckpointError, match=r"^model .*model.safetensors failed its checksum"):
        verify_checksum(model, alternative=tmp_path / "missing.pt", what="model")


def test_a_checkpoint_changed_without_its_sidecar_is_refused_by_its_own_digest(tmp_path: Path) -> None:
    """The sidecar lost, one weight changed (as a flipped bit in a tensor would): the content digest tells."""
    import struct
    import zipfile

    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.arange(64, dtype=torch.float32)}, "epoch": 3})
    checksum_path(path).unlink()
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:  # the stored (uncompressed) tensor bytes of "w"
        info = next(i for i in z.infolist() if i.filename.endswith("/data/0"))
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])  # local header
    start = info.header_offset + 30 + name_len + extra_len
    data[start + 4 * 5] ^= 0x01  # one bit of the sixth float
    path.write_bytes(bytes(data))
    assert torch.load(path, weights_only=True)["model"]["w"][5] != 5.0  # torch itself reads it without complaint
    with pytest.raises(CheckpointError, match="does not match the digest"):
        load_checkpoint(path)


def test_a_checkpoint_reads_back_its_state_without_the_digest(tmp_path: Path) -> None:
    state = {"model": {"w": torch.ones(3, dtype=torch.bfloat16), "n": torch.tensor(2)}, "history": [{"loss": 0.5}],
             "rng": {"numpy": ["MT19937", torch.arange(4), 1, 0, 0.0]}, "best": {"epoch": None}}
    save_checkpoint(tmp_path / "c.pt", state)
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert set(loaded) == set(state) and torch.equal(loaded["model"]["w"], state["model"]["w"])
