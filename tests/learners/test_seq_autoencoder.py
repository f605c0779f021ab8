"""Sequence autoencoder: pad-blind loss, ham-trained scores rank spam higher, export, `deepfeat score` and `embed`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import deepfeat
from deepfeat.run.apply import anomaly_score, predict_anomaly, score_file
from deepfeat.api import load_data
from deepfeat.data.info import DataInfo
from deepfeat.run.model_io import export_model, load_model
from deepfeat.errors import ConfigError, DataError
from deepfeat.learners.build import build_learner
from deepfeat.data.tokenize import decode_ids
from deepfeat.learners.seq_autoencoder import sequence_nll, token_nll

SMS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sms_spam" / "SMSSpamCollection"
# A ham-only vocabulary with min_freq 1 never holds <unk> in training, so an unseen word is surprising.
DATA = {"name": "sms_spam", "limit": 1500, "normal_classes": ["ham"],
        "tokenizer": {"name": "word", "max_length": 24, "min_freq": 1}}
CONFIG = {
    "name": "seq-ae-test", "seed": 0, "data": DATA,
    "encoder": {"name": "text_rnn", "vocab_size": 4000, "embed_dim": 32, "hidden_size": 32},
    "learner": {"name": "seq_autoencoder", "code_dim": 32, "embed_dim": 32, "hidden_size": 64},
    "optimizer": {"name": "adam", "lr": 1e-2},
    "training": {"epochs": 4, "batch_size": 32, "threads": 1, "progress": "none"},
    "evaluation": {"embedding_plots": []},
}


def _ids() -> torch.Tensor:
    return torch.tensor([[5, 3, 7, 0, 0], [2, 0, 0, 0, 0], [4, 4, 6, 9, 1]])


def test_loss_ignores_pad_positions() -> None:
    ids = _ids()
    logits = torch.randn(3, 5, 10, generator=torch.Generator().manual_seed(0))
    changed = logits.clone()
    changed[ids == 0] = torch.randn(int((ids == 0).sum()), 10) * 50
    torch.testing.assert_close(sequence_nll(changed, ids), sequence_nll(logits, ids), rtol=0, atol=0)
    assert (token_nll(changed, ids)[ids == 0] == 0).all()
    # Oracle: the mean over real tokens of -log softmax at the target.
    logp = torch.log_softmax(logits, -1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    expected = torch.stack([-logp[i, ids[i] != 0].mean() for i in range(3)])
    torch.testing.assert_close(sequence_nll(logits, ids), expected)
    changed[0, 1, ids[0, 1]] += 5.0  # a real token's logits do count
    assert not torch.allclose(sequence_nll(changed, ids)[0], sequence_nll(logits, ids)[0])


def test_padding_columns_change_neither_loss_nor_scores() -> None:
    vocab = ["<pad>", "<unk>", *map(str, range(8))]
    enc = {"name": "text_rnn", "vocab_size": 10, "embed_dim": 8, "hidden_size": 8}
    short = build_learner({"name": "seq_autoencoder", "code_dim": 8, "hidden_size": 8},
                          DataInfo("tokens", (5,), tokenizer={"name": "word", "vocab": vocab}), enc).eval()
    long = build_learner({"name": "seq_autoencoder", "code_dim": 8, "hidden_size": 8},
                         DataInfo("tokens", (9,), tokenizer={"name": "word", "vocab": vocab}), enc).eval()
    long.load_state_dict(short.state_dict())
    x = _ids()
    wide = torch.nn.functional.pad(x, (0, 4))
    torch.testing.assert_close(long.score_samples(wide), short.score_samples(x))
    torch.testing.assert_close(long.training_step((wide, None))["loss"], short.training_step((x, None))["loss"])
    rebuilt = long.reconstruct_tokens(wide)
    assert rebuilt.shape == wide.shape and ((rebuilt == 0) == (wide == 0)).all()
    assert decode_ids([4, 2, 0, 0], {"name": "word", "vocab": vocab}) == "2 0"
    with pytest.raises(DataError, match="vocab_size=10"):
        short.score_samples(torch.full((1, 5), 10))
    with pytest.raises(DataError, match="kind 'tokens'"):
        build_learner("seq_autoencoder", DataInfo("image", (1, 8, 8)), "cnn")
    with pytest.raises(ConfigError, match="seq_autoencoder"):  # the image autoencoder points text users here
        build_learner("autoencoder", DataInfo("tokens", (5,), tokenizer={"name": "word", "vocab": vocab}), enc)


@pytest.fixture(scope="module")
def sms_run(tmp_path_factory: pytest.TempPathFactory) -> deepfeat.Run:
    if not SMS.is_file():
        pytest.skip(f"SMS Spam Collection not found at {SMS}")
    return deepfeat.fit(CONFIG, out=tmp_path_factory.mktemp("seq") / "run")


def test_ham_trained_seq_autoencoder_scores_spam_higher(sms_run: deepfeat.Run) -> None:
    anomaly = sms_run.results["evaluations"]["anomaly"]
    # Measured 0.85 ROC-AUC on this 1,500-message slice (300 test messages, 4 epochs); chance is 0.5, and
    # a vocabulary with frequent <unk> in training gave 0.32 (spam, full of unseen words, looked typical).
    assert anomaly["roc_auc"] > 0.75 and anomaly["settings"]["normal_classes"] == [0], anomaly
    recon = sms_run.results["evaluations"]["text_reconstruction"]
    assert 0 < recon["token_accuracy"] <= 1 and recon["perplexity"] > 1
    plots = {p.name for p in (sms_run.dir / "plots").glob("*.png")}
    assert {"text_reconstructions.png", "anomaly_scores.png", "roc_curve.png"} <= plots


def test_export_round_trip_and_deepfeat_score(sms_run: deepfeat.Run, tmp_path: Path) -> None:
    learner = sms_run.learner.eval()
    test_x = load_data(sms_run.config).test.x
    export_model(learner, sms_run.info, sms_run.config.learner, sms_run.config.encoder, tmp_path / "model")
    again, _ = load_model(tmp_path / "model")
    with torch.no_grad():
        np.testing.assert_array_equal(again.score_samples(test_x).numpy(), learner.score_samples(test_x).numpy())
    # `deepfeat score` re-encodes the data with the run's vocabulary, not one refitted on the new data.
    out, summary = score_file(sms_run, {"name": "sms_spam", "limit": 1500}, tmp_path / "scores.csv")
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    assert table.shape == (1500, 4) and summary["threshold"] == sms_run.results["evaluations"]["anomaly"]["threshold"]
    assert roc_auc_score(table[:, 3], table[:, 1]) > 0.75  # id, score, anomaly, label; the ham seen in training too
    z = np.load(deepfeat.embed(sms_run.dir, {"name": "sms_spam", "limit": 1500}, tmp_path / "z.npy"))
    assert z.shape == (1500, 32) and np.isfinite(z).all()  # ids of the run's tokenizer: length 24, not 64
    flags = predict_anomaly(sms_run, test_x.numpy())
    np.testing.assert_array_equal(flags, (anomaly_score(sms_run, test_x.numpy()) > summary["threshold"]).astype(int))
