"""Applying a trained run: embed, predict classes, reconstruct, denoise, score anomalies, sample.

Every function takes a run (a :class:`~deepfeat.run.runs.Run` or its folder) and raw inputs
``(N, *input_shape)`` as the dataset stores them (pixels in [0, 1]); the run's own training
normalization is applied inside, and outputs come back raw. The ``*_file`` functions, :func:`embed` and
:func:`predict` also take new data by path, name or spec and stream it (:mod:`deepfeat.run.new_data`), each
output row carrying its sample's id.

    >>> run = deepfeat.load("runs/mnist-anomaly")
    >>> scores = anomaly_score(run, x)           # (N,), higher = more anomalous
    >>> flags = predict_anomaly(run, x)          # (N,) 0/1 with the threshold stored in results.json
    >>> predict("runs/pets", "new_photos/", out="answers.csv")  # id,label,p_cat,p_dog per file
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from deepfeat.data.datasets import load_dataset
from deepfeat.data.noise import build_noise
from deepfeat.errors import CheckpointError, ConfigError
from deepfeat.run.evaluations.autoencoder import calibrate as calibrate_on
from deepfeat.run.lock import make_folder
from deepfeat.run.results import write_results
from deepfeat.run.new_data import CHUNK_ROWS, NewSamples, new_samples
from deepfeat.run.runs import Run, check_finite_outputs, data_spec, inference_precision, load, load_data
from deepfeat.run.sample_table import SUFFIXES, SampleWriter, output_file
from deepfeat.run.series_scores import Reduce, windowing, write_point_scores
from deepfeat.run.series_scores import score_series as _score_series

GRID_IMAGES = 64  # images in a .png grid of outputs

RunLike = Run | str | Path


def _run(run: RunLike) -> Run:
    return run if isinstance(run, Run) else load(run)


def reconstruct(run: RunLike, x: Any, batch_size: int = 1024) -> np.ndarray:
    """Reconstructions ``(N, *input_shape)``; for a denoising autoencoder, the denoised inputs."""
    r = _run(run)
    r.require("reconstructs")
    return r.apply(lambda b: r.learner.scale.to_raw(r.learner.reconstruct(b)), x, batch_size)


denoise = reconstruct


def corrupt(run: RunLike, x: Any, noise: Any = None, seed: int = 0) -> np.ndarray:
    """``x`` corrupted by ``noise`` (a :mod:`deepfeat.data.noise` spec; default: the run's own noise)."""
    r = _run(run)
    module = build_noise(noise) if noise is not None else r.learner.noise if r.learner.can("denoises") else None
    if module is None:
        raise ConfigError(f"corrupt for run {r.dir.name}: expected a noise spec such as {{name: gaussian, sigma: 0.5}}, "
                          "got none and the run was not trained with noise.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return module(torch.as_tensor(np.asarray(x), dtype=torch.float32)).numpy()


def anomaly_score(run: RunLike, x: Any, batch_size: int = 1024) -> np.ndarray:
    """Per-sample anomaly scores ``(N,)``: reconstruction error, or the negative ELBO for a VAE."""
    r = _run(run)
    r.require("scores")
    return r.apply(r.learner.score_samples, x, batch_size)


def stored_threshold(run: RunLike) -> float:
    """The threshold calibrated after training (``results.json``: ``evaluations.anomaly.threshold``)."""
    r = _run(run)
    anomaly = (r.results.evaluations or {}).get("anomaly", {})
    if "threshold" not in anomaly:
        raise CheckpointError(f"run {r.dir}: expected a calibrated threshold in results.json, found none. "
                              f"Run `deepfeat score {r.dir} --quantile 0.95 ...` to calibrate one.")
    return float(anomaly["threshold"])


def predict_anomaly(run: RunLike, x: Any, threshold: float | None = None) -> np.ndarray:
    """0/1 decisions ``(N,)``: 1 where the score exceeds ``threshold`` (default: the stored one)."""
    r = _run(run)
    limit = stored_threshold(r) if threshold is None else float(threshold)
    return (anomaly_score(r, x) > limit).astype(np.int64)


def calibrate(run: RunLike, *, quantile: float | None = None, contamination: float | None = None) -> dict[str, Any]:
    """Re-calibrate the threshold on the run's clean validation split and store it in ``results.json``."""
    r = _run(run)
    r.require("scores")
    precision = inference_precision(r.learner, r.config.training.device)
    result = calibrate_on(r.learner, load_data(r.config), precision, r.config.evaluation.max_samples,
                          quantile=quantile, contamination=contamination)
    evaluations = r.results.evaluations = r.results.evaluations or {}
    evaluations["anomaly"] = {**evaluations.get("anomaly", {}), **result}
    write_results(r.paths, r.results)
    return result


def sample(run: RunLike, n: int = 64, seed: int = 0) -> np.ndarray:
    """``n`` samples from a VAE's prior (decoded) or a GAN's generator: ``(n, *input_shape)``, data space."""
    r = _run(run)
    r.require("generates")
    out = r.learner.sample(n, seed=seed).float().cpu().numpy()
    check_finite_outputs(int((~np.isfinite(out)).sum()), out.size, r.dir.name)
    return out


def interpolate(run: RunLike, x_a: Any, x_b: Any, steps: int = 8) -> np.ndarray:
    """Decodes along the latent line from each ``x_a`` to ``x_b`` (N, ...): ``(N, steps, *input_shape)``."""
    r = _run(run)
    r.require("interpolates")
    a, b = (r.info.normalize(r.inputs(x)) for x in (x_a, x_b))
    with torch.no_grad():
        out = r.learner.eval().interpolate(a, b, steps)
    return r.learner.scale.to_raw(out.flatten(0, 1)).view(out.shape).cpu().numpy()


def load_raw(data: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Every sample of a dataset name or file, raw (no normalization, no split): ``(N, ...)`` and labels."""
    bundle = load_dataset(data_spec(data), val_fraction=0.0, test_fraction=0.0, normalize=False)
    batches = [(x, y) for split in bundle.splits().values() for x, y in split.batches(CHUNK_ROWS)]
    xs = [x.numpy() for x, _ in batches]
    ys = [y.numpy() for _, y in batches if y is not None]
    return np.concatenate(xs), (np.concatenate(ys) if len(ys) == len(xs) else None)


def save_array(values: np.ndarray, out: str | Path) -> Path:
    """Write ``values`` to ``.npy``, or, for images ``(N, C, H, W)``, a ``.png`` grid of the first 64 (GRID_IMAGES)."""
    out = Path(out)
    make_folder(out.parent, f"output {out}")
    if out.suffix == ".npy":
        np.save(out, values.astype(np.float32))
    elif out.suffix == ".png" and values.ndim == 4:
        from deepfeat.reports.samples import save_image_grid

        save_image_grid(values[:GRID_IMAGES], out, nrow=8)
    else:
        raise ConfigError(f"output {out}: expected a .npy file (or .png for images), got suffix {out.suffix!r}")
    return out


def denoise_file(run: RunLike, data: Any, out: str | Path, noise: Any = None, seed: int = 0,
                 batch_size: int = 1024) -> Path:
    """Denoise every sample of ``data`` (see :func:`embed`) into ``out``, batch by batch: ``.npy`` (with the ids
    beside it, ``<name>.ids.txt``) or a ``.png`` grid of the first 64. With ``noise``, the clean data is first
    corrupted (a demo), one seeded draw over the whole stream."""
    r = _run(run)
    r.require("reconstructs")
    out = output_file(out, "denoise", (".npy", ".png"))
    module = build_noise(noise) if noise is not None else None
    samples = new_samples(r, data)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if out.suffix == ".png":
            grid = [denoise(r, _noisy(module, x), batch_size) for x in _first(samples, GRID_IMAGES, batch_size)]
            return save_array(np.concatenate(grid), out)
        with SampleWriter(out, samples.count) as writer:
            for ids, x, _ in samples.batches(batch_size):
                writer.write(ids, denoise(r, _noisy(module, x), batch_size), {})
    return out


def _noisy(module: torch.nn.Module | None, x: Any) -> Any:
    return x if module is None else module(torch.as_tensor(np.asarray(x), dtype=torch.float32))


def _first(samples: NewSamples, n: int, batch_size: int) -> Iterator[Any]:
    """The raw samples of the first batches, ``n`` samples in all (no more is read)."""
    left = n
    for _, x, _ in samples.batches(min(batch_size, n)):
        yield x[:left]
        left -= len(x[:left])
        if left == 0:
            return


def score_series(run: RunLike, series: Any, labels: Any = None, reduce: Reduce = "mean") -> dict[str, Any]:
    """Point scores of a long series ``(T,)`` or ``(C, T)`` with a run trained on its windows: the series is cut
    with the run's window length and stride, and each point gets the ``reduce`` (mean or max) of the scores of
    the windows covering it. Returns ``points`` ``(T,)``, ``windows``, ``starts`` and, with 0/1 ``labels``
    ``(T,)``, ``metrics`` (point ROC-AUC, average precision)."""
    r = _run(run)
    return _score_series(lambda w: anomaly_score(r, w), windowing(r.info, r.dir.name), series, labels, reduce)


def score_file(run: RunLike, data: Any, out: str | Path, quantile: float | None = None,
               contamination: float | None = None, reduce: Reduce | None = None,
               batch_size: int = 1024) -> tuple[Path, dict[str, Any]]:
    """Scores and 0/1 decisions for every sample of ``data`` (see :func:`embed`) into ``out``, batch by batch:
    ``.csv`` / ``.parquet`` (id, score, anomaly[, label]) or ``.npy`` (scores, ids beside it).

    The decision is 1 where the score exceeds the run's calibrated threshold (:func:`stored_threshold`); with
    ``quantile`` or ``contamination`` the threshold is first re-calibrated and stored. Returns the path and a
    summary (samples, flagged fraction, threshold). For a run trained on windows of a series
    (``info.windows``), ``data`` is one long series file (see :mod:`deepfeat.data.series_file`) and the scores
    are per time point: ``reduce`` (default mean) of the windows covering it; the summary adds point metrics.
    """
    r = _run(run)
    r.require("scores")
    out = output_file(out, "score", (".csv", ".npy") if r.info.windows else SUFFIXES)
    if reduce is not None:
        windowing(r.info, r.dir.name)  # --reduce for a run of whole samples fails before any calibration
    if quantile is not None or contamination is not None:
        calibrate(r, quantile=quantile, contamination=contamination)
    threshold = stored_threshold(r)
    if r.info.windows:
        summary = write_point_scores(lambda w: anomaly_score(r, w), r.info, r.dir.name, data, out,
                                     threshold, reduce or "mean")
        return out, summary
    samples, flagged = new_samples(r, data), 0
    with SampleWriter(out, samples.count) as writer:
        for ids, x, y in samples.batches(batch_size):
            scores = anomaly_score(r, x, batch_size)
            flags = (scores > threshold).astype(np.int64)
            labels = {"label": y.numpy()} if samples.labelled and y is not None else {}  # in-memory labelled data
            writer.write(ids, scores, {"score": scores, "anomaly": flags, **labels})
            flagged += int(flags.sum())
    return out, {"samples": samples.count, "flagged": flagged / samples.count if samples.count else 0.0,
                 "threshold": threshold}


def sample_file(run: RunLike, n: int, out: str | Path, seed: int = 0) -> Path:
    """``n`` samples of a VAE or GAN run into ``out`` (.npy, or a .png grid for images)."""
    return save_array(sample(run, n, seed), out)


def embed(run: RunLike, data: Any, out: str | Path | None = None, batch_size: int = 1024) -> Any:
    """Features of ``data`` with a run's model: in memory, or streamed to ``out`` (.npy, .csv or .parquet).

    ``data`` is raw samples (a numpy array or tensor ``(N, *input_shape)``, as the dataset stores them), an
    existing file or folder, a dataset name, or a spec (``{name: image_folder, root: imgs}``, also as inline
    YAML): every sample, read as the run read its own data (:mod:`deepfeat.run.new_data`). The run's own
    training-split normalization is applied, never statistics of the new data. Returns the
    ``(N, feature_dim)`` array when ``out`` is None, else the path written (rows: id, f0, f1, ...).
    """
    r = _run(run)
    if out is None:
        if isinstance(data, (np.ndarray, torch.Tensor)):
            return r.embed(data, batch_size)
        raise ConfigError(f"embed of {data!r}: expected an output file (out=features.npy, .csv or .parquet) for a "
                          "dataset, or samples as an array to get the features back in memory.")
    out, samples = output_file(out, "embed"), new_samples(r, data)
    names = [f"f{i}" for i in range(r.learner.feature_dim)]
    with SampleWriter(out, samples.count) as writer:
        for ids, x, _ in samples.batches(batch_size):
            z = r.embed(x, batch_size)
            writer.write(ids, z, dict(zip(names, z.T)))
    return out


@dataclass
class Predictions:
    """A classifier run's answers for new samples: ``ids`` (N,), ``labels`` (N,) class names, ``proba``
    ``(N, len(classes))`` class probabilities, columns in the order of ``classes``."""

    ids: list[str]
    labels: np.ndarray
    proba: np.ndarray
    classes: list[str]


def predict(run: RunLike, data: Any, out: str | Path | None = None, batch_size: int = 1024) -> Any:
    """Class names and probabilities of every sample of ``data`` (see :func:`embed`) with a classifier run.

    Returns :class:`Predictions` when ``out`` is None, else the path written: ``.csv`` / ``.parquet`` (id,
    label, then one probability column ``p_<class>`` per class) or ``.npy`` (the probabilities, ids beside).
    """
    r = _run(run)
    r.require("classifies")
    path = output_file(out, "predict") if out is not None else None
    samples, classes = new_samples(r, data), r.classes
    if path is None:
        parts = [(ids, r.predict_proba(x, batch_size)) for ids, x, _ in samples.batches(batch_size)]
        proba = np.concatenate([p for _, p in parts]) if parts else np.zeros((0, len(classes)), np.float32)
        return Predictions([i for ids, _ in parts for i in ids], np.asarray(classes)[proba.argmax(1)], proba, classes)
    with SampleWriter(path, samples.count) as writer:
        for ids, x, _ in samples.batches(batch_size):
            proba = r.predict_proba(x, batch_size)
            columns = {"label": np.asarray(classes)[proba.argmax(1)], **{f"p_{c}": p for c, p in zip(classes, proba.T)}}
            writer.write(ids, proba, columns)
    return path
