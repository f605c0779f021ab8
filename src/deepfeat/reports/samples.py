"""Pictures of generated images: tiled grids, PNG files and labelled rows (epochs, interpolations).

Inputs are images ``(N, C, H, W)`` in [0, 1] (one or three channels), as a generative learner's
``sample`` returns them. Grids are drawn with nearest-neighbour pixels, so 8x8 digits stay crisp.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from deepfeat.errors import DataError
from deepfeat.reports.figures import house_style, new_figure


def image_grid(images: torch.Tensor | np.ndarray, nrow: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile ``(N, C, H, W)`` images into one ``(H', W')`` (grey) or ``(H', W', 3)`` array, white gaps.

    ``nrow`` images per row (default: a square-ish grid).
    """
    x = np.asarray(images.detach().cpu().float() if isinstance(images, torch.Tensor) else images, dtype=np.float32)
    if x.ndim != 4 or x.shape[1] not in (1, 3) or len(x) == 0:
        raise DataError(f"images at image_grid: expected a non-empty (N, 1 or 3, H, W) array, got shape {x.shape}")
    n, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = np.ones((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), np.float32)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, top: top + h, left: left + w] = x[i]
    grid = np.clip(grid, 0.0, 1.0)
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def save_image_grid(images: torch.Tensor | np.ndarray, path: str | Path, nrow: int | None = None, scale: int = 4) -> Path:
    """Write ``images`` as one PNG grid (each pixel ``scale`` x ``scale``); returns the path."""
    from PIL import Image

    grid = image_grid(images, nrow)
    pixels = (grid * 255).round().astype(np.uint8)
    img = Image.fromarray(pixels, mode="L" if pixels.ndim == 2 else "RGB")
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def _show(ax: object, grid: np.ndarray) -> None:
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")  # type: ignore[attr-defined]
    ax.set_xticks([])  # type: ignore[attr-defined]
    ax.set_yticks([])  # type: ignore[attr-defined]
    ax.grid(False)  # type: ignore[attr-defined]
    for spine in ax.spines.values():  # type: ignore[attr-defined]
        spine.set_visible(False)


@house_style
def samples_figure(images: torch.Tensor | np.ndarray, title: str, nrow: int | None = None) -> Figure:
    """One grid of images with a title."""
    grid = image_grid(images, nrow)
    height = 6.0 * grid.shape[0] / grid.shape[1]
    fig = new_figure(6.0, max(1.5, height + 0.4))
    ax = fig.subplots()
    _show(ax, grid)
    ax.set_title(title)
    return fig


@house_style
def rows_figure(rows: Sequence[tuple[str, torch.Tensor | np.ndarray]], title: str, xlabel: str = "") -> Figure:
    """Labelled rows of images, one row per ``(label, images (K, C, H, W))``: epochs, interpolation paths."""
    if not rows:
        raise DataError("rows at rows_figure: expected at least one (label, images) row, got none")
    k = max(len(images) for _, images in rows)
    fig = new_figure(min(9.0, 0.75 * k + 1.2), 0.75 * len(rows) + 0.7)
    axes = fig.subplots(len(rows), 1, squeeze=False).ravel()
    for ax, (label, images) in zip(axes, rows):
        _show(ax, image_grid(images, nrow=k))
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    axes[0].set_title(title)
    if xlabel:
        axes[-1].set_xlabel(xlabel)
    return fig
