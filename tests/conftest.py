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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def kill_9_and_resume_under_torchrun(tmp_path: Path):
    """Run ``script`` (argv: action, config, out, *args) under 2 torchrun processes three times: ``fit`` into
    ``whole``; ``kill`` into ``killed`` (the script has rank 0 kill itself with SIGKILL after step 5 of epoch 2);
    ``resume`` of ``killed``. Asserts the kill left a step-4 checkpoint of epoch 2 and no model, and that the resumed
    run's weights are bitwise those of the uninterrupted one. Returns ``(whole, killed)`` folders."""
    import subprocess
    import sys

    import yaml
    from safetensors.torch import load_file

    from deepfeat.engine.checkpoint import load_checkpoint

    def run(script: str, cfg: dict, *args: str, env: dict[str, str] | None = None, timeout: int = 300):
        (tmp_path / "ranks.py").write_text(script)
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump(cfg))

        def torchrun(action: str, out: Path) -> None:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr",
                   "127.0.0.1", "--master-port", str(_free_port()), str(tmp_path / "ranks.py"), action, str(config),
                   str(out), *args]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})
            assert (done.returncode != 0) == (action == "kill"), done.stderr[-3000:]

        whole, killed = tmp_path / "whole", tmp_path / "killed"
        torchrun("fit", whole)
        torchrun("kill", killed)
        assert not (killed / "model").exists()
        state = load_checkpoint(killed / "checkpoints" / "last.pt")
        assert (state["epoch"], state["epoch_step"]) == (1, 4)
        torchrun("resume", killed)
        got = load_file(str(killed / "model" / "model.safetensors"))
        expected = load_file(str(whole / "model" / "model.safetensors"))
        assert got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in got)
        return whole, killed

    return run
