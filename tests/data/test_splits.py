"""Batching, seeded stratified splits and train-only normalization."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from deepfeat.data import DataInfo, StreamSplit, TensorSplit, from_arrays, make_bundle, split_indices
from deepfeat.errors import ConfigError


def _epoch_ids(split: TensorSplit | StreamSplit, batch_size: int, **kw: object) -> list[int]:
    """The sample ids (stored in column 0 of x) in the order one epoch yields them."""
    return [int(v) for x, _ in split.batches(batch_size, **kw) for v in x[:, 0]]


@pytest.mark.parametrize("kind", ["tensor", "stream"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_each_sample_exactly_once_per_epoch(kind: str, shuffle: bool) -> None:
    x = torch.arange(23, dtype=torch.float32).unsqueeze(1).repeat(1, 3)
    y = torch.arange(23) % 4
    split = TensorSplit(x, y) if kind == "tensor" else StreamSplit(TensorDataset(x, y))
    gen = torch.Generator().manual_seed(1)
    batches = list(split.batches(5, shuffle=shuffle, generator=gen))
    assert [len(b[0]) for b in batches] == [5, 5, 5, 5, 3]
    assert len(batches) == split.num_batches(5)
    ids = [int(v) for b in batches for v in b[0][:, 0]]
    assert sorted(ids) == list(range(23))
    assert (ids != list(range(23))) == shuffle
    for bx, by in batches:  # labels stay attached to their samples
        assert torch.equal(by, bx[:, 0].long() % 4)


@pytest.mark.parametrize("kind", ["tensor", "stream"])
def test_same_seed_same_order_other_seed_other_order(kind: str) -> None:
    x = torch.arange(40, dtype=torch.float32).unsqueeze(1)
    split = TensorSplit(x) if kind == "tensor" else StreamSplit(TensorDataset(x))

    def order(seed: int) -> list[int]:
        return _epoch_ids(split, 8, shuffle=True, generator=torch.Generator().manual_seed(seed))

    assert order(3) == order(3)
    assert order(3) != order(4)
    gen = torch.Generator().manual_seed(3)
    assert _epoch_ids(split, 8, shuffle=True, generator=gen) != _epoch_ids(split, 8, shuffle=True, generator=gen)


def test_drop_last_and_unlabelled_batches() -> None:
    split = TensorSplit(torch.zeros(10, 2))
    batches = list(split.batches(4, drop_last=True))
    assert split.num_batches(4, drop_last=True) == len(batches) == 2
    assert all(y is None for _, y in batches)
    with pytest.raises(ConfigError, match="batch_size"):
        split.num_batches(0)


def test_stratified_split_is_seeded_exact_and_disjoint() -> None:
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    rest, val, test = split_indices(100, labels, [0.1, 0.2], seed=5)
    assert (len(rest), len(val), len(test)) == (70, 10, 20)
    assert sorted(np.concatenate([rest, val, test]).tolist()) == list(range(100))
    assert np.bincount(labels[test]).tolist() == [10, 6, 4]  # class proportions kept
    again = split_indices(100, labels, [0.1, 0.2], seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(again, [rest, val, test]))
    assert not np.array_equal(split_indices(100, labels, [0.1, 0.2], seed=6)[2], test)


def test_normalization_statistics_come_from_train_only() -> None:
    # Train data are centred at 0 with std 1 per channel; the given test split sits at 10 with std 5.
    gen = torch.Generator().manual_seed(0)
    scale, shift = torch.tensor([1.0, 3.0]).view(1, 2, 1), torch.tensor([0.0, -2.0]).view(1, 2, 1)
    x = torch.randn(200, 2, 16, generator=gen) * scale + shift
    x_test = torch.randn(100, 2, 16, generator=gen) * 5 + 10
    y, y_test = torch.arange(200) % 2, torch.arange(100) % 2
    bundle = make_bundle(x, y, "sequence", "toy", val_fraction=0.1, x_test=x_test, y_test=y_test)
    assert bundle.info.mean == pytest.approx([0.0, -2.0], abs=0.1)
    assert bundle.info.std == pytest.approx([1.0, 3.0], rel=0.05)
    assert bundle.train.x.mean(dim=(0, 2)).tolist() == pytest.approx([0.0, 0.0], abs=1e-5)
    # The test split went through the same (train) transform, so it stays far from 0 / 1.
    assert bundle.test.x[:, 0].mean().item() == pytest.approx(10.0, abs=0.5)
    assert bundle.test.x[:, 1].std().item() == pytest.approx(5 / 3, rel=0.1)
    assert torch.allclose(bundle.info.normalize(x_test), bundle.test.x, atol=1e-5)
    assert x_test.mean().item() == pytest.approx(10.0, abs=0.3)  # the caller's tensor is untouched


def test_vector_stats_per_feature_and_constant_feature_kept_finite() -> None:
    x = np.column_stack([np.arange(100.0), np.full(100, 7.0)])
    bundle = from_arrays(x, val_fraction=0.0, test_fraction=0.2)
    assert len(bundle.info.mean) == 2 and bundle.info.std[1] == 1.0
    assert torch.isfinite(bundle.test.x).all() and bundle.val is None
    assert bundle.info.kind == "vector" and bundle.info.num_classes == 0 and bundle.train.y is None


def test_labels_remapped_to_codes_with_original_names() -> None:
    x = np.random.default_rng(0).normal(size=(60, 3))
    y = np.repeat([3, 7, 9], 20)
    bundle = from_arrays(x, y, normalize=False)
    assert bundle.info.class_names == ["3", "7", "9"] and bundle.info.num_classes == 3
    assert bundle.train.y.dtype == torch.int64 and set(bundle.train.y.tolist()) == {0, 1, 2}
    assert bundle.train.x.dtype == torch.float32 and bundle.info.mean is None
    # Each remapped label still points at its sample: rebuild y from the split x.
    row = {tuple(np.float32(r)): lab for r, lab in zip(x, y)}
    for xs, ys in zip(bundle.test.x.numpy(), bundle.test.y.tolist()):
        assert row[tuple(xs)] == [3, 7, 9][ys]


def test_bad_fractions_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="val_fraction \\+ test_fraction < 1"):
        from_arrays(np.zeros((10, 2)), val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ConfigError, match="val_fraction: expected a number in \\[0, 1\\)"):
        from_arrays(np.zeros((10, 2)), val_fraction=-0.1)


def test_info_round_trip_and_to_device() -> None:
    bundle = from_arrays(np.random.default_rng(1).normal(size=(30, 1, 4, 4)), np.arange(30) % 3, val_fraction=0.1)
    info = DataInfo.from_dict(bundle.info.to_dict())
    assert info == bundle.info and info.input_shape == (1, 4, 4)
    moved = bundle.train.to("cpu")
    assert len(moved) == len(bundle.train) and set(bundle.splits()) == {"train", "val", "test"}


def test_tokens_stay_integer_and_are_not_normalized() -> None:
    ids = np.random.default_rng(0).integers(0, 100, size=(20, 8))
    bundle = from_arrays(ids, np.arange(20) % 2, kind="tokens")
    assert bundle.train.x.dtype == torch.int64 and bundle.info.mean is None
    assert set(bundle.train.x.flatten().tolist()) <= set(ids.flatten().tolist())


def test_length_buckets_group_similar_lengths_and_keep_every_sample_once() -> None:
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 200, (1000,), generator=g)
    ids = (torch.arange(200).view(1, -1) < lengths.view(-1, 1)).long() * 7  # right-padded with 0
    split = make_bundle(ids.numpy(), np.arange(1000) % 2, "tokens", "toy", val_fraction=0.0, test_fraction=0.0).train
    assert torch.equal(split.lengths, (split.x != 0).sum(1))
    part = split.take(torch.tensor([3, 1]))  # a subset (e.g. a low-label draw) keeps labels and lengths
    assert torch.equal(part.lengths, split.lengths[[3, 1]]) and torch.equal(part.y, split.y[[3, 1]])

    def epoch(buckets: int, seed: int) -> list[torch.Tensor]:
        return [x for x, _ in split.batches(32, shuffle=True, generator=torch.Generator().manual_seed(seed),
                                            buckets=buckets)]

    plain, bucketed = epoch(0, 1), epoch(20, 1)
    assert len(bucketed) == len(plain) == split.num_batches(32)
    assert sorted(torch.cat(bucketed)[:, 0].tolist()) == sorted(split.x[:, 0].tolist())  # every sample, once
    seen = torch.cat([x for x in bucketed]).sum(1)
    assert sorted(seen.tolist()) == sorted(split.x.sum(1).tolist())
    padded = sum(len(x) * int((x != 0).sum(1).max()) for x in plain)  # what padded compute costs per epoch
    assert sum(len(x) * int((x != 0).sum(1).max()) for x in bucketed) < 0.7 * padded
    assert all(torch.equal(a, b) for a, b in zip(bucketed, epoch(20, 1)))  # seeded: a resume redraws the same
    assert len(epoch(20, 1)[-1]) == 1000 % 32  # the one short batch stays last
    with pytest.raises(ConfigError, match="length_buckets"):
        from deepfeat.engine.trainer import TrainingConfig

        TrainingConfig(length_buckets=-1)


def test_a_streamed_split_loads_in_worker_processes_that_live_across_epochs_and_repeat_its_order() -> None:
    from deepfeat.data.splits import default_workers

    x = torch.arange(40, dtype=torch.float32).unsqueeze(1)
    streamed, inline = StreamSplit(TensorDataset(x)), StreamSplit(TensorDataset(x), num_workers=0)
    assert streamed.num_workers == default_workers() >= 1
    epochs = [_epoch_ids(streamed, 8, shuffle=True, generator=torch.Generator().manual_seed(e)) for e in (0, 1)]
    loader = streamed._loaders[(8, False)][0]
    workers = loader._iterator._workers  # the processes of the first epoch still serve the second
    assert epochs[0] != epochs[1] and all(w.is_alive() for w in workers)
    assert epochs == [_epoch_ids(inline, 8, shuffle=True, generator=torch.Generator().manual_seed(e)) for e in (0, 1)]
    assert _epoch_ids(streamed, 8, skip=3) == list(range(24, 40))  # a resume mid-epoch reads none of the first batches
