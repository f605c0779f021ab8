"""Each use of an optional extra, with the extra missing, fails in one line naming the extra to install."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from deepfeat.errors import ConfigError


def _snr() -> object:
    from deepfeat.eval.reconstruction import snr_db

    return snr_db(np.ones((2, 8)), np.ones((2, 8)))


def _fid() -> object:
    from deepfeat.eval.generative import frechet_distance

    return frechet_distance(np.random.rand(20, 3), np.random.rand(20, 3))


def _mnist1d() -> object:
    from deepfeat.data.timeseries import mnist1d

    return mnist1d(num_samples=100)


def _ucr_folder() -> object:
    from deepfeat.data.timeseries import _aeon_bundled

    return _aeon_bundled()


def _resample() -> object:
    from deepfeat.data.audio_io import resample

    return resample(torch.zeros(1, 80), 8000, 16000)


def _tensorboard(tmp_path: Path) -> object:
    from deepfeat.engine.tensorboard import TensorBoardLogger

    return TensorBoardLogger(tmp_path)


def _optuna() -> object:
    from deepfeat.run.tune import optuna_module

    return optuna_module()


USES: list[tuple[str, str, Callable[..., object]]] = [
    ("images", "torchmetrics", _snr), ("images", "torchmetrics", _fid), ("timeseries", "mnist1d", _mnist1d),
    ("timeseries", "aeon", _ucr_folder), ("audio", "torchaudio", _resample),
    ("tensorboard", "torch.utils.tensorboard", _tensorboard), ("search", "optuna", _optuna),
]


@pytest.mark.parametrize(("extra", "module", "use"), USES, ids=[u[2].__name__.strip("_") for u in USES])
def test_a_missing_extra_is_one_line_naming_it(extra: str, module: str, use: Callable[..., object], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == module or m.startswith(f"{module}.")] + [module]:
        monkeypatch.setitem(sys.modules, name, None)  # as if the extra were not installed
    with pytest.raises(ConfigError) as raised:
        use(tmp_path) if use is _tensorboard else use()
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"optional extra '{extra}' at ")
    assert message.endswith(f"pip install 'deepfeat[{extra}]'.") or f"pip install 'deepfeat[{extra}]', or " in message
