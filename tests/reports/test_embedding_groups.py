"""Embedding maps with one extra panel per metadata group (e.g. speaker next to digit)."""

from __future__ import annotations

import numpy as np
import pytest

from deepfeat.errors import DataError
from deepfeat.reports.plots import embedding_map


def test_each_group_adds_a_panel_of_the_same_points_coloured_by_it() -> None:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((90, 5))
    y = np.arange(90) % 3
    speaker = np.array(["ann", "bob"])[np.arange(90) // 45]
    fig = embedding_map(z, y, "pca", groups={"speaker": speaker}, max_points=60)
    scatter_axes = [ax for ax in fig.axes if ax.collections]
    assert len(scatter_axes) == 2
    assert "coloured by speaker" in scatter_axes[1].get_title()
    legend = [t.get_text() for t in scatter_axes[1].get_legend().get_texts()]
    assert legend == ["ann", "bob"] and scatter_axes[1].get_legend().get_title().get_text() == "speaker"
    # Same projection, same subsample: both panels hold the same 60 points.
    points = [np.concatenate([c.get_offsets() for c in ax.collections]) for ax in scatter_axes]
    assert len(points[0]) == len(points[1]) == 60
    np.testing.assert_allclose(np.sort(points[0], axis=0), np.sort(points[1], axis=0))
    assert len([ax for ax in embedding_map(z, y, "pca").axes if ax.collections]) == 1


def test_a_group_of_the_wrong_length_is_one_clear_error() -> None:
    z = np.random.default_rng(0).standard_normal((20, 3))
    with pytest.raises(DataError, match="expected 20 'speaker' values"):
        embedding_map(z, None, "pca", groups={"speaker": np.zeros(19)})
