"""Text datasets and tokenizers: train-only vocabularies, OOV ids, padding, the SMS file and its download."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from deepfeat.data import DataInfo, load_dataset
from deepfeat.data import text as text_module
from deepfeat.data.tokenize import PAD_ID, UNK_ID, build_tokenizer, encode_texts
from deepfeat.errors import DataError

SMS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sms_spam" / "SMSSpamCollection"


def _unique_word_csv(path: Path, n: int = 60) -> Path:
    """Each document holds a word no other document has, plus a class word shared by its class."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(n):
            label = "pos" if i % 2 else "neg"
            writer.writerow([f"uniq{i} {label}word common", label])
    return path


def test_vocabulary_is_built_on_the_training_split_only(tmp_path: Path) -> None:
    path = _unique_word_csv(tmp_path / "docs.csv")
    data = load_dataset({"name": "text_csv", "path": str(path), "tokenizer": {"name": "word", "max_length": 5}},
                        val_fraction=0.2, test_fraction=0.2)
    vocab = data.info.tokenizer["vocab"]
    assert vocab[:2] == ["<pad>", "<unk>"] and data.info.kind == "tokens"
    assert sum(tok.startswith("uniq") for tok in vocab) == len(data.train) == 36
    # Every held-out document's own word is unknown to the vocabulary; no training word is.
    assert (data.val.x[:, 0] == UNK_ID).all() and (data.test.x[:, 0] == UNK_ID).all()
    assert (data.train.x[:, :3] != UNK_ID).all() and data.train.x.dtype == torch.int64
    assert (data.train.x[:, 3:] == PAD_ID).all()  # 3 tokens, padded to 5


def test_unknown_tokens_min_freq_max_size_and_truncation() -> None:
    tok = build_tokenizer({"name": "word", "max_length": 4, "min_freq": 2}).fit(["a b b", "b c a", "d"])
    assert tok.vocab == ["<pad>", "<unk>", "b", "a"]  # by count, then alphabetically; c and d seen once
    np.testing.assert_array_equal(tok.encode(["A zz b!", "b b b b b b"]), [[3, 1, 2, 1], [2, 2, 2, 2]])
    small = build_tokenizer({"name": "word", "max_size": 3}).fit(["a b b"])
    assert small.vocab == ["<pad>", "<unk>", "b"]
    chars = build_tokenizer({"name": "char", "max_length": 6, "lowercase": False}).fit(["abA"])
    ids = chars.encode(["Ab?"])[0]
    assert [chars.vocab[i] for i in ids[:3]] == ["A", "b", "<unk>"] and list(ids[3:]) == [0, 0, 0]


def test_text_folder_and_jsonl(tmp_path: Path) -> None:
    for label in ("ham", "spam"):
        (tmp_path / "docs" / label).mkdir(parents=True)
        for i in range(10):
            (tmp_path / "docs" / label / f"{i}.txt").write_text(f"{label} message number {i}")
    data = load_dataset({"name": "text_folder", "root": str(tmp_path / "docs")}, val_fraction=0.0, test_fraction=0.0)
    assert data.info.class_names == ["ham", "spam"] and len(data.train) == 20
    assert data.train.y.bincount().tolist() == [10, 10]
    rows = [{"body": f"note {i}", "tag": "a" if i < 4 else "b"} for i in range(12)]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    spec = {"name": "text_csv", "path": str(tmp_path / "t.jsonl"), "text_column": "body", "label_column": "tag"}
    data = load_dataset(spec, val_fraction=0.0, test_fraction=0.0)
    assert data.info.class_names == ["a", "b"] and data.train.y.bincount().tolist() == [4, 8]
    with pytest.raises(DataError, match="expected columns 'text'"):
        load_dataset({"name": "text_csv", "path": str(tmp_path / "t.jsonl")})


def test_sms_spam_offline_and_new_text_after_round_trip() -> None:
    if not SMS.is_file():
        pytest.skip(f"SMS Spam Collection not found at {SMS}")
    data = load_dataset({"name": "sms_spam", "tokenizer": {"name": "word", "max_length": 30, "min_freq": 2}})
    n = len(data.train) + len(data.val) + len(data.test)
    spam = torch.cat([data.train.y, data.val.y, data.test.y]).float().mean().item()
    assert n == 5574 and data.info.class_names == ["ham", "spam"] and abs(spam - 0.134) < 0.001
    info = DataInfo.from_dict(json.loads(json.dumps(data.info.to_dict())))
    assert info == data.info
    ids = encode_texts(["WIN a FREE prize now", "qqqzzz"], info)
    vocab = info.tokenizer["vocab"]
    assert [vocab[i] for i in ids[0, :5]] == ["win", "a", "free", "prize", "now"]
    assert ids[1, 0] == UNK_ID and ids.shape == (2, 30)
    with pytest.raises(DataError, match="expected the file"):
        load_dataset({"name": "sms_spam", "root": "/nonexistent"})


def test_sms_download_checks_the_md5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not SMS.is_file():
        pytest.skip(f"SMS Spam Collection not found at {SMS}")

    def serve(content: bytes):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr("SMSSpamCollection", content)
            z.writestr("readme", "UCI")
        return lambda url, timeout: io.BytesIO(buffer.getvalue())

    monkeypatch.setattr(text_module.urllib.request, "urlopen", serve(SMS.read_bytes()))
    data = load_dataset({"name": "sms_spam", "root": str(tmp_path), "download": True, "limit": 200})
    assert (tmp_path / "sms_spam" / "SMSSpamCollection").read_bytes() == SMS.read_bytes()
    assert len(data.train) + len(data.test) == 200 and data.val is None  # 20 validation samples: under the auto minimum
    monkeypatch.setattr(text_module.urllib.request, "urlopen", serve(b"ham\tchanged\n"))
    with pytest.raises(DataError, match="expected MD5"):
        load_dataset({"name": "sms_spam", "root": str(tmp_path / "other"), "download": True})
