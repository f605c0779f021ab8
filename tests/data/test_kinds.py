"""The data-kind registry: every kind's normalization, stored kinds from before "audio", and no kind names
compared outside the registry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from deepfeat.data import DataInfo
from deepfeat.data.kinds import DATA_KINDS, kind_named
from deepfeat.errors import ConfigError, DataError

SRC = Path(__file__).resolve().parents[2] / "src" / "deepfeat"

# A data kind tested by name (or sound detected by a sample rate) instead of asking the kind's object.
KIND_TEST = re.compile(r"kind ==|kind !=|kind in \(|kind not in|sample_rate is not None|sample_rate is None")
# Lines that match but test something other than a data kind: (file, text on the line).
NOT_DATA_KINDS = {
    ("nn/generators.py", 'kind == "tanh"'),  # a generator's output layer
    ("learners/sparse.py", 'kind == "kl"'),  # the sparsity penalty
    *(("learners/gan_losses.py", f'kind == "{loss}"') for loss in ("non_saturating", "hinge", "wasserstein")),
    ("learners/gan_losses.py", 'kind in ("hinge", "wasserstein")'),  # the GAN loss
    ("learners/gan.py", 'kind == "auto"'), ("learners/gan.py", 'kind == "conv"'),  # the generator's architecture
    ("sklearn/base.py", 'self.kind == "auto"'),  # the estimator's "infer it" setting
    ("registry.py", "p.kind in ("),  # inspect.Parameter kinds
    ("eval/evaluations.py", "p.kind in ("),  # inspect.Parameter kinds
    ("eval/diagnose.py", "f.kind not in"),  # a diagnosis finding's kind
    ("run/search_space.py", "kind not in TYPES"), ("run/search_space.py", 'kind == "categorical"'),
    ("run/search_space.py", 'kind == "int"'),  # a search dimension's type
    ("run/observers.py", "kind not in self.warnings"),  # a warning's kind
}


def kind_tests_outside_registry() -> list[str]:
    hits = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("data/kinds/"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.replace("dtype.kind", "")  # a numpy dtype kind is not a data kind
            if KIND_TEST.search(code) and not any(rel == f and text in line for f, text in NOT_DATA_KINDS):
                hits.append(f"{rel}:{n}: {line.strip()}")
    return hits


def test_no_data_kind_is_tested_by_name_outside_the_registry() -> None:
    assert kind_tests_outside_registry() == []


@pytest.mark.parametrize("name", DATA_KINDS.names())
def test_every_kind_normalizes_with_its_own_statistics_and_inverts_them(name: str) -> None:
    kind = kind_named(name)
    shape = (6, *[3, 5, 4][: kind.ndim - 1])
    x = (torch.rand(shape) * 4 + 2).to(kind.dtype) if kind.continuous else torch.randint(2, 9, shape)
    info = DataInfo(name, tuple(shape[1:]))
    assert info.example(2).dtype == kind.dtype and info.example(2).shape == (2, *shape[1:])
    if kind.stats is None:  # never normalized (token ids)
        assert torch.equal(info.normalize(x), x) and torch.equal(info.denormalize(x), x)
        return
    info.mean, info.std = kind.statistics(x)
    assert len(info.mean) == shape[1]  # one per feature (vector) or per channel
    z = info.normalize(x)
    dims = (0,) if kind.stats == "feature" else (0, *range(2, x.dim()))
    assert torch.allclose(z.mean(dims), torch.zeros(shape[1]), atol=1e-5)
    back = info.denormalize(z)
    expected = x if kind.display_range is None else x.clamp(*kind.display_range)
    assert torch.allclose(back, expected, atol=1e-5)


def test_sound_stored_as_a_sequence_with_a_sample_rate_loads_as_audio() -> None:
    old = {"kind": "sequence", "input_shape": [1, 400], "reader": {"sample_rate": 8000, "duration": 0.05}}
    info = DataInfo.from_dict(old)
    assert info.kind == "audio" and info.sample_rate == 8000 and info.kind_spec.rate_key == "sample_rate"
    series = DataInfo.from_dict({"kind": "sequence", "input_shape": [1, 400]})
    assert series.kind == "sequence" and series.sample_rate is None
    with pytest.raises(ConfigError, match="unknown data kind 'graph'"):
        DataInfo.from_dict({"kind": "graph", "input_shape": [3]})


def test_audio_without_a_rate_says_how_to_get_one() -> None:
    with pytest.raises(DataError, match="sample_rate at data info.reader.sample_rate of the audio data 'clips': expected a rate in Hz"):
        _ = DataInfo("audio", (1, 400), name="clips").sample_rate


def test_a_model_exported_before_audio_was_a_kind_loads_as_audio(tmp_path: Path) -> None:
    from deepfeat.learners.build import build_learner
    from deepfeat.run.model_io import META_FILE, export_model, load_model

    info = DataInfo("audio", (1, 64), mean=[0.0], std=[1.0], reader={"sample_rate": 8000, "duration": 0.008})
    spec, encoder = {"name": "autoencoder", "code_dim": 4}, {"name": "mlp", "hidden": [8]}
    folder = tmp_path / "model"
    export_model(build_learner(spec, info, encoder), info, spec, encoder, folder)
    meta = json.loads((folder / META_FILE).read_text())
    meta["data"]["kind"] = "sequence"  # as it was written before
    (folder / META_FILE).write_text(json.dumps(meta))
    for sidecar in folder.glob("*.sha256"):  # folders from before checksums have none
        sidecar.unlink()
    _, loaded = load_model(folder)
    assert loaded.kind == "audio" and loaded.sample_rate == 8000
