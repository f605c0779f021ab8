"""Figures: files and index written by save_figure, and the content of each standard plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from deepfeat.errors import ConfigError, DataError
from deepfeat.reports import (
    confusion_matrix_plot,
    embedding_map,
    new_figure,
    plot_training_curves_to,
    read_index,
    read_metrics,
    save_figure,
    training_curves,
)


def _tiny_figure():
    fig = new_figure(3, 2)
    fig.subplots().plot([0, 1], [1, 0])
    return fig


def test_plots_are_valid_pngs_listed_in_index(full_run: Path) -> None:
    entries = json.loads((full_run / "plots" / "index.json").read_text())
    assert [e["name"] for e in entries] == ["training_curves", "embedding_pca", "confusion"]
    assert {e["section"] for e in entries} == {"Training", "Features", "Evaluation"}
    for e in entries:
        image = imread(full_run / "plots" / e["file"])
        height, width = image.shape[:2]
        assert 300 <= width <= 2000 and 250 <= height <= 2000, (e["file"], image.shape)
        assert image[..., :3].std() > 0.05  # not a blank canvas
        assert e["title"] and e["caption"]


def test_save_figure_replaces_entry_with_same_name(tmp_path: Path) -> None:
    save_figure(_tiny_figure(), tmp_path, "a", title="first", caption="")
    save_figure(_tiny_figure(), tmp_path, "b", title="second", caption="")
    path = save_figure(_tiny_figure(), tmp_path, "a", title="again", caption="c", section="S")
    assert path == tmp_path / "plots" / "a.png" and path.is_file()
    assert [(e["name"], e["title"], e["section"]) for e in read_index(tmp_path)] == [
        ("a", "again", "S"), ("b", "second", "Training")]


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden"])
def test_save_figure_rejects_names_that_are_not_file_stems(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="figure name"):
        save_figure(_tiny_figure(), tmp_path, name, title="t", caption="c")


def test_training_curves_panels_scales_and_best_epoch(bare_run: Path) -> None:
    fig = training_curves(read_metrics(bare_run))
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy", "learning rate"]
    loss, acc, lr = axes
    assert [ln.get_label() for ln in loss.get_lines()][:2] == ["train", "val"]
    # The LR decays 10x per epoch (4 decades): log scale; the accuracy stays linear.
    assert lr.get_yscale() == "log" and acc.get_yscale() == "linear"
    # val/loss is lowest at epoch 4 (epoch 5 has a bump; epoch 2 is empty and must be skipped).
    best_lines = [ln for ln in loss.get_lines() if ln.get_label().startswith("best")]
    assert best_lines and best_lines[0].get_xdata()[0] == 4
    val = next(ln for ln in loss.get_lines() if ln.get_label() == "val")
    assert list(val.get_xdata()) == [1, 3, 4, 5]
    assert all(ax.get_xlabel() == "epoch" for ax in axes)


def test_training_curves_rejects_rows_without_metrics() -> None:
    with pytest.raises(DataError, match="train/loss"):
        training_curves([{"epoch": 1, "step": 10}])
    with pytest.raises(DataError, match="at least one epoch"):
        training_curves([])


def test_plot_training_curves_to_uses_best_epoch_from_results(bare_run: Path) -> None:
    assert plot_training_curves_to(bare_run) == bare_run / "plots" / "training_curves.png"
    assert "best epoch (4)" in read_index(bare_run)[0]["caption"]
    assert plot_training_curves_to(bare_run / "empty") is None


def test_embedding_map_pca_labels_each_digit_cluster() -> None:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    fig = embedding_map(x, y, "pca", class_names=[f"d{i}" for i in range(10)], max_points=500)
    ax = fig.axes[0]
    assert "PCA" in ax.get_title() and "64-d" in ax.get_title() and "500 of 1797" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"d{i}" for i in range(10)]
    bold = {t.get_text(): t for t in ax.texts if t.get_fontweight() == "bold"}
    assert set(bold) == {f"d{i}" for i in range(10)}
    # Each name sits at the median of its own class's points.
    for k, points in enumerate(ax.collections):
        np.testing.assert_allclose(bold[f"d{k}"].get_position(), np.median(np.asarray(points.get_offsets()), axis=0))
    assert "% of variance" in ax.get_xlabel()


def test_embedding_map_tsne_is_seeded_and_subsampled(rng: np.random.Generator) -> None:
    z = np.concatenate([rng.normal(0, 1, (100, 20)), rng.normal(6, 1, (100, 20))])
    y = np.repeat(["cat", "dog"], 100)
    a = embedding_map(z, y, "tsne", max_points=120, seed=3)
    b = embedding_map(z, y, "tsne", max_points=120, seed=3)
    assert "t-SNE" in a.axes[0].get_title() and "120 of 200" in a.axes[0].get_title()
    pa = np.concatenate([c.get_offsets() for c in a.axes[0].collections])
    pb = np.concatenate([c.get_offsets() for c in b.axes[0].collections])
    np.testing.assert_allclose(pa, pb)
    assert [t.get_text() for t in a.axes[0].get_legend().get_texts()] == ["cat", "dog"]


def test_embedding_map_many_classes_and_continuous_use_colorbar(rng: np.random.Generator) -> None:
    z = rng.normal(size=(300, 5))
    assert len(embedding_map(z, rng.integers(0, 15, 300)).axes) == 2
    assert len(embedding_map(z, rng.normal(size=300)).axes) == 2
    assert embedding_map(z).axes[0].get_legend() is None


def test_embedding_map_errors(rng: np.random.Generator) -> None:
    z = rng.normal(size=(50, 4))
    with pytest.raises(ConfigError, match="Did you mean 'tsne'"):
        embedding_map(z, method="tnse")
    with pytest.raises(DataError, match=r"expected 50 labels"):
        embedding_map(z, np.zeros(10, dtype=int))
    with pytest.raises(DataError, match="finite"):
        embedding_map(np.full((5, 3), np.nan))
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match=r"deepfeat\[umap\]"):
            embedding_map(z, method="umap")


def test_confusion_matrix_is_row_normalized_with_counts() -> None:
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 1, 2, 2, 0, 2])
    fig = confusion_matrix_plot(y_true, y_pred, ["ant", "bee", "cow"])
    ax = fig.axes[0]
    assert "80.0%" in ax.get_title()
    matrix = ax.get_images()[0].get_array()
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    np.testing.assert_allclose(matrix[0], [0.75, 0.25, 0.0])
    assert sorted(t.get_text() for t in ax.texts) == ["1", "1", "2", "3", "3"]
    with pytest.raises(DataError, match="equal-length"):
        confusion_matrix_plot(y_true, y_pred[:3])
