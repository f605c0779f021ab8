"""Shared test set-up: offline data from ../shared/data, few threads, fixed seeds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from deepfeat.data.bundle import from_arrays

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()

os.environ.setdefault("DEEPFEAT_DATA", str(SHARED_DATA))
# The suite runs on two pytest-xdist workers (one per core of the 2-core CI machines), each with
# one torch thread: the tests' small models gain nothing from intra-op threads, and two workers
# with two threads each would oversubscribe the cores.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts seeded (a fit puts back the thread count it changed, so the one thread above holds)."""
    torch.manual_seed(0)
    yield


@pytest.fixture
def isolated_registries(monkeypatch):
    """What a test registers (encoders, learners, datasets) is gone after it, so other tests see the built-ins only."""
    from deepfeat.data.datasets import DATASETS
    from deepfeat.learners.build import LEARNERS
    from deepfeat.nn.encoder import ENCODERS

    for registry in (ENCODERS, LEARNERS, DATASETS):
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))
        monkeypatch.setattr(registry, "_aliases", dict(registry._aliases))


@pytest.fixture
def shared_data() -> Path:
    """The offline data folder; tests needing MNIST are skipped when it is absent."""
    if not (SHARED_DATA / "MNIST" / "raw").is_dir():
        pytest.skip(f"offline data not found at {SHARED_DATA}")
    return SHARED_DATA


# learner name -> (encoder spec, learner kwargs); anything absent uses a small CNN and defaults.
ARGS: dict[str, tuple[object, dict]] = {
    # a gradient penalty needs a critic without batch norm
    "wgan_gp": ({"name": "cnn", "channels": [8, 16], "norm": "layer"}, {}),
    # token ids in, a text encoder; the decoder's vocabulary comes from the tokenizer in DataInfo
    "seq_autoencoder": ({"name": "text_rnn", "vocab_size": 20, "embed_dim": 8, "hidden_size": 8}, {"hidden_size": 16}),
}


def _images(n: int = 32):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 8, 8, generator=g)
    y = torch.arange(n) % 4
    return from_arrays(x.numpy(), y.numpy(), kind="image", val_fraction=0.0, test_fraction=0.0)


def _tokens(n: int = 32):
    """Right-padded token ids (n, 10) over a 20-word vocabulary, with the tokenizer a text dataset stores."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, 20, (n, 10), generator=g)
    x[:, 4:] *= torch.arange(10)[4:] < torch.randint(4, 11, (n, 1), generator=g)  # lengths 4..10
    data = from_arrays(x.numpy(), (torch.arange(n) % 2).numpy(), kind="tokens", val_fraction=0.0, test_fraction=0.0)
    data.info.tokenizer = {"name": "word", "max_length": 10, "vocab": ["<pad>", "<unk>", *map(str, range(18))]}
    return data




# learner name -> the data it learns from; anything absent gets _images().
DATA = {"seq_autoencoder": _tokens}


@pytest.fixture
def learner_case():
    """``name -> (data, encoder spec, learner spec)``: tiny data and settings any registered learner trains on."""
    def case(name: str):
        encoder, kwargs = ARGS.get(name, ({"name": "cnn", "channels": [8, 16]}, {}))
        return DATA.get(name, _images)(), encoder, {"name": name, **kwargs}

    return case


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory) -> Path:
    """An MLflow SQLite store with its tables made once per module (MLflow's migrations take seconds per new store)."""
    mlflow = pytest.importorskip("mlflow")
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def runs(tmp_path: Path, mlflow_store: Path) -> Path:
    """A runs folder whose default store (runs/mlflow.db) already has MLflow's tables."""
    import shutil

    (tmp_path / "runs").mkdir()
    shutil.copy(mlflow_store, tmp_path / "runs" / "mlflow.db")
    return tmp_path / "runs"
