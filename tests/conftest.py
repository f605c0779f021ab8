"""Shared test set-up: offline data from ../shared/data, few threads, fixed seeds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()

os.environ.setdefault("DEEPFEAT_DATA", str(SHARED_DATA))
# The suite runs on two pytest-xdist workers (one per core of the 2-core CI machines), each with
# one torch thread: the tests' small models gain nothing from intra-op threads, and two workers
# with two threads each would oversubscribe the cores.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    """Every test starts seeded with one torch thread, whatever a previous test's run set (training.threads)."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield


@pytest.fixture
def shared_data() -> Path:
    """The offline data folder; tests needing MNIST are skipped when it is absent."""
    if not (SHARED_DATA / "MNIST" / "raw").is_dir():
        pytest.skip(f"offline data not found at {SHARED_DATA}")
    return SHARED_DATA
