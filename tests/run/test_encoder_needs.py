"""A network pretrained on token ids reads new texts with the tokenizer that made those ids: a deepfeat text run's
vocabulary, a Hugging Face model's own tokenizer. A vocabulary built on the new texts would give the same word
another id, and the pretrained embedding rows would mean other words."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import deepfeat
from deepfeat.run.workflow import check_config
from deepfeat.errors import ConfigError
from deepfeat.nn.encoder import data_needs
from deepfeat.run.encoder_needs import with_encoder_needs

TINY = {
    "optimizer": {"name": "adam", "lr": 0.01},
    "training": {"epochs": 1, "batch_size": 8, "progress": "none"},
    "evaluation": {"protocol": [], "embedding_plots": []},
    "logging": {"plots": False, "report": False},
}


def texts(path: Path, words: tuple[list[str], list[str]], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    rows = [{"text": " ".join(rng.choice(words[k], 5)), "label": ("a", "b")[k]} for k in (0, 1) * 20]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_text_runs_vocabulary_goes_with_its_encoder(tmp_path: Path) -> None:
    """Pretrained on one corpus, fine-tuned on another whose own vocabulary would number its words otherwise."""
    first = texts(tmp_path / "first.jsonl", (["see", "you", "at", "home"], ["win", "free", "prize", "cash"]), 0)
    pretrained = deepfeat.fit({**TINY, "encoder": {"name": "text_cnn"}, "learner": {"name": "classifier"},
                               "data": {"name": "text_csv", "path": str(first),
                                        "tokenizer": {"name": "word", "max_length": 8}}}, out=tmp_path / "pre")
    vocab = json.loads((pretrained.dir / "model" / "model.json").read_text())["data"]["tokenizer"]["vocab"]
    second = texts(tmp_path / "second.jsonl", (["zebra", "home", "cash"], ["yak", "free", "win"]), 1)
    backbone = {"name": "backbone", "source": str(pretrained.dir)}
    assert data_needs(backbone)["tokenizer"]["vocab"] == vocab
    run = deepfeat.fit({**TINY, "encoder": backbone, "learner": {"name": "transfer"},
                        "data": {"name": "text_csv", "path": str(second), "tokenizer": {"name": "word"}}},
                       out=tmp_path / "fine")
    info = json.loads((run.dir / "model" / "model.json").read_text())["data"]
    assert info["tokenizer"]["vocab"] == vocab  # "zebra" and "yak" are <unk> to the pretrained network
    assert "zebra" not in vocab and info["tokenizer"]["max_length"] == 8
    with pytest.raises(ConfigError, match="data.tokenizer: expected the tokenizer the encoder was pretrained with"):
        check_config({**TINY, "encoder": backbone, "learner": {"name": "transfer"},
                               "data": {"name": "text_csv", "path": str(second),
                                        "tokenizer": {"name": "char", "max_length": 8}}})


def test_a_hugging_face_encoder_brings_its_own_tokenizer() -> None:
    spec = {"name": "text_csv", "path": "x.csv", "tokenizer": {"name": "word", "max_length": 32}}
    with pytest.raises(ConfigError, match="name 'word'"):
        with_encoder_needs(spec, {"name": "pretrained_text", "model": "all-MiniLM-L6-v2"})
    spec = {"name": "text_csv", "path": "x.csv", "tokenizer": {"max_length": 32}}
    assert with_encoder_needs(spec, {"name": "pretrained_text", "model": "all-MiniLM-L6-v2"})["tokenizer"] == {
        "name": "pretrained", "model": "all-MiniLM-L6-v2", "max_length": 32}


def test_encoders_that_need_nothing_leave_the_data_alone() -> None:
    spec = {"name": "text_csv", "path": "x.csv", "tokenizer": "word"}
    assert with_encoder_needs(spec, {"name": "text_cnn"}) is spec
    assert data_needs("mlp") == {} and data_needs({"name": "backbone", "source": "timm:resnet18"}) == {}
