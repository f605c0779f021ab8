"""Applying a trained run: embed, reconstruct, denoise, score anomalies, sample.

Every function takes a run (a :class:`~deepfeat.run.runs.Run` or its folder) and raw inputs
``(N, *input_shape)`` as the dataset stores them (pixels in [0, 1]); the run's own training
normalization is applied inside, and outputs come back raw.

    >>> run = deepfeat.load("runs/mnist-anomaly")
    >>> scores = anomaly_score(run, x)           # (N,), higher = more anomalous
    >>> flags = predict_anomaly(run, x)          # (N,) 0/1 with the threshold stored in results.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfeat.data.chunks import STREAMABLE, count_rows, iter_chunks
from deepfeat.data.datasets import load_dataset
from deepfeat.data.noise import build_noise
from deepfeat.engine.inference import iter_outputs
from deepfeat.errors import CheckpointError, ConfigError, DataError
from deepfeat.run.evaluations.autoencoder import calibrate as calibrate_on
from deepfeat.run.lock import make_folder
from deepfeat.run.results import write_results
from deepfeat.run.runs import Run, data_spec, inference_precision, load, load_data, model_data_spec
from deepfeat.run.series_scores import Reduce, windowing, write_point_scores
from deepfeat.run.series_scores import score_series as _score_series

CHUNK_ROWS = 8192  # samples read from a file at a time by embed (a few MB for images)

RunLike = Run | str | Path


def _run(run: RunLike) -> Run:
    return run if isinstance(run, Run) else load(run)


def _require(run: Run, capability: str) -> None:
    """Refuse, with the fix, to apply to ``run`` what its learner does not declare (``Learner.capabilities``)."""
    if not run.learner.can(capability):
        can = ", ".join(sorted(run.learner.capabilities)) or "none of reconstructs, scores, generates"
        raise ConfigError(
            f"run {run.dir.name}: expected a learner that {capability}, got learner '{run.config.learner['name']}' "
            f"(it {can}). Train a learner that {capability}: `deepfeat list learners` describes each."
        )


def reconstruct(run: RunLike, x: Any, batch_size: int = 1024) -> np.ndarray:
    """Reconstructions ``(N, *input_shape)``; for a denoising autoencoder, the denoised inputs."""
    r = _run(run)
    _require(r, "reconstructs")
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
    _require(r, "scores")
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
    _require(r, "scores")
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
    _require(r, "generates")
    return r.learner.sample(n, seed=seed).float().cpu().numpy()


def interpolate(run: RunLike, x_a: Any, x_b: Any, steps: int = 8) -> np.ndarray:
    """Decodes along the latent line from each ``x_a`` to ``x_b`` (N, ...): ``(N, steps, *input_shape)``."""
    r = _run(run)
    _require(r, "interpolates")
    a, b = (r.info.normalize(r.inputs(x)) for x in (x_a, x_b))
    with torch.no_grad():
        out = r.learner.eval().interpolate(a, b, steps)
    return r.learner.scale.to_raw(out.flatten(0, 1)).view(out.shape).cpu().numpy()


def load_raw(data: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Every sample of a dataset name or file, raw (no normalization, no split): ``(N, ...)`` and labels."""
    bundle = load_dataset(data_spec(data), val_fraction=0.0, test_fraction=0.0, normalize=False)
    splits = [s for s in (bundle.train, bundle.val, bundle.test) if s is not None]
    xs = [s.x.numpy() for s in splits]
    ys = [s.y.numpy() for s in splits if s.y is not None]
    return np.concatenate(xs), (np.concatenate(ys) if len(ys) == len(xs) else None)


def save_array(values: np.ndarray, out: str | Path) -> Path:
    """Write ``values`` to ``.npy``, or, for images ``(N, C, H, W)``, a ``.png`` grid of the first 64."""
    out = Path(out)
    make_folder(out.parent, f"output {out}")
    if out.suffix == ".npy":
        np.save(out, values.astype(np.float32))
    elif out.suffix == ".png" and values.ndim == 4:
        from deepfeat.reports.samples import save_image_grid

        save_image_grid(values[:64], out, nrow=8)
    else:
        raise ConfigError(f"output {out}: expected a .npy file (or .png for images), got suffix {out.suffix!r}")
    return out


def denoise_file(run: RunLike, data: Any, out: str | Path, noise: Any = None, seed: int = 0) -> Path:
    """Denoise every sample of ``data`` into ``out``; with ``noise``, corrupt the clean data first (a demo)."""
    r = _run(run)
    x, _ = load_raw(data)
    if noise is not None:
        x = corrupt(r, x, noise, seed)
    return save_array(denoise(r, x), out)


def score_series(run: RunLike, series: Any, labels: Any = None, reduce: Reduce = "mean") -> dict[str, Any]:
    """Point scores of a long series ``(T,)`` or ``(C, T)`` with a run trained on its windows: the series is cut
    with the run's window length and stride, and each point gets the ``reduce`` (mean or max) of the scores of
    the windows covering it. Returns ``points`` ``(T,)``, ``windows``, ``starts`` and, with 0/1 ``labels``
    ``(T,)``, ``metrics`` (point ROC-AUC, average precision)."""
    r = _run(run)
    return _score_series(lambda w: anomaly_score(r, w), windowing(r.info, r.dir.name), series, labels, reduce)


def score_file(run: RunLike, data: Any, out: str | Path, quantile: float | None = None,
               contamination: float | None = None, reduce: Reduce | None = None) -> tuple[Path, dict[str, Any]]:
    """Scores and 0/1 decisions for every sample of ``data`` into ``out`` (.csv: score,anomaly[,label]; .npy: scores).

    With ``quantile`` or ``contamination`` the threshold is first re-calibrated and stored. Returns the
    path and a summary (samples, flagged fraction, threshold). For a run trained on windows of a series
    (``info.windows``), ``data`` is one long series file (see :mod:`deepfeat.data.series_file`) and the scores
    are per time point: ``reduce`` (default mean) of the windows covering it; the summary adds point metrics.
    """
    r = _run(run)
    out = Path(out)
    if out.suffix not in (".csv", ".npy"):
        raise ConfigError(f"score output {out}: expected a .csv or .npy file name, got suffix {out.suffix!r}")
    if reduce is not None:
        windowing(r.info, r.dir.name)  # --reduce for a run of whole samples fails before any calibration
    if quantile is not None or contamination is not None:
        calibrate(r, quantile=quantile, contamination=contamination)
    if r.info.windows:
        summary = write_point_scores(lambda w: anomaly_score(r, w), r.info, r.dir.name, data, out,
                                     stored_threshold(r), reduce or "mean")
        return out, summary
    x, y = load_raw(model_data_spec(r.info, data))  # text: encoded with the run's vocabulary
    scores, threshold = anomaly_score(r, x), stored_threshold(r)
    flags = (scores > threshold).astype(np.int64)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, scores)
    else:
        columns = [scores, flags] + ([y] if y is not None else [])
        header = "score,anomaly" + (",label" if y is not None else "")
        np.savetxt(out, np.column_stack(columns), delimiter=",", header=header, comments="",
                   fmt=["%.9g", "%d"] + (["%d"] if y is not None else []))
    return out, {"samples": len(scores), "flagged": float(flags.mean()) if len(flags) else 0.0, "threshold": threshold}


def sample_file(run: RunLike, n: int, out: str | Path, seed: int = 0) -> Path:
    """``n`` samples of a VAE or GAN run into ``out`` (.npy, or a .png grid for images)."""
    return save_array(sample(run, n, seed), out)


def embed(run: RunLike, data: Any, out: str | Path | None = None, batch_size: int = 1024) -> Any:
    """Features of ``data`` with a run's model: in memory, or streamed to ``out`` (.npy or .csv).

    ``data`` is raw samples (a numpy array or tensor ``(N, *input_shape)``, as the dataset stores them),
    or a dataset name, file or folder (every sample: its train split, then its own test split where it
    has one). The run's own training-split normalization is applied, never statistics of the new data.
    Returns the ``(N, feature_dim)`` array when ``out`` is None, else the path written.
    """
    r = _run(run)
    if isinstance(data, (np.ndarray, torch.Tensor)):  # raw samples in memory, not a name or a path
        z = r.embed(data, batch_size)
        if out is None:
            return z
        with _FeatureWriter(_feature_file(out), len(z), z.shape[1]) as writer:
            writer.write(z)
        return Path(out)
    if out is None:
        raise ConfigError(f"embed of {data!r}: expected an output file (out=features.npy or .csv) for a dataset, "
                          "or samples as an array to get the features back in memory.")
    out = _feature_file(out)
    if Path(str(data)).suffix.lower() in STREAMABLE and Path(str(data)).is_file():
        return _embed_file(r, Path(str(data)), out, batch_size)
    bundle = load_dataset(model_data_spec(r.info, data), val_fraction=0.0, test_fraction=0.0, normalize=False)
    if tuple(bundle.info.input_shape) != tuple(r.info.input_shape):
        raise ConfigError(f"embed data {data}: expected samples of shape {tuple(r.info.input_shape)} "
                          f"(what run {r.dir.name} was trained on), got {tuple(bundle.info.input_shape)}")
    splits = [s for s in (bundle.train, bundle.val, bundle.test) if s is not None]
    precision = inference_precision(r.learner, r.config.training.device)
    fn = lambda x: r.learner.embed(r.info.normalize(x))  # noqa: E731
    with _FeatureWriter(out, sum(len(s) for s in splits), r.learner.feature_dim) as writer:
        for split in splits:
            for z, _ in iter_outputs(r.learner, split, precision, fn, batch_size):
                writer.write(z)
    return out


def _embed_file(r: Run, path: Path, out: Path, batch_size: int) -> Path:
    """Features of every sample of a .npy / .csv file, read in chunks (a memory map for .npy) and written as they
    come: peak memory is about one chunk, whatever the file's size. Bad input leaves no output file."""
    try:
        with _FeatureWriter(out, count_rows(path), r.learner.feature_dim) as writer:
            for chunk in iter_chunks(path, rows=max(batch_size, CHUNK_ROWS)):
                writer.write(r.embed(_samples(chunk, r, path, writer.row), batch_size))
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out


def _samples(chunk: np.ndarray, r: Run, path: Path, start: int) -> np.ndarray:
    """A chunk in the run's input shape (a table's rows reshaped), checked finite; errors name the sample."""
    shape = tuple(r.info.input_shape)
    if chunk.shape[1:] != shape and chunk.ndim == 2 and chunk.shape[1] == int(np.prod(shape)):
        chunk = chunk.reshape(-1, *shape)  # a table of flattened samples, one per row
    if chunk.shape[1:] != shape:
        raise ConfigError(f"embed data {path}: expected samples of shape {shape} (what run {r.dir.name} was "
                          f"trained on) or rows of {int(np.prod(shape))} values, got {tuple(chunk.shape[1:])}")
    bad = ~np.isfinite(chunk.reshape(len(chunk), -1)).all(axis=1)
    if bad.any():
        raise DataError(f"input values at {path}: expected finite numbers, got NaN or inf values (first in sample "
                        f"{start + int(np.argmax(bad))}). Impute or drop those samples first.")
    return chunk


def _feature_file(out: str | Path) -> Path:
    out = Path(out)
    if out.suffix not in (".npy", ".csv"):
        raise ConfigError(f"embed output {out}: expected a .npy or .csv file name, got suffix {out.suffix!r}")
    make_folder(out.parent, f"embed output {out}")
    return out


class _FeatureWriter:
    """Append ``(B, D)`` float32 batches to a .npy memmap or a .csv file without holding them all."""

    def __init__(self, path: Path, total: int, dim: int) -> None:
        self.path, self.total, self.dim, self.row = path, total, dim, 0

    def __enter__(self) -> "_FeatureWriter":
        if self.path.suffix == ".npy":
            self.array = np.lib.format.open_memmap(self.path, mode="w+", dtype=np.float32, shape=(self.total, self.dim))
        else:
            self.file = open(self.path, "w")
            self.file.write(",".join(f"f{i}" for i in range(self.dim)) + "\n")
        return self

    def write(self, z: np.ndarray) -> None:
        if self.path.suffix == ".npy":
            self.array[self.row: self.row + len(z)] = z
        else:
            np.savetxt(self.file, z, delimiter=",", fmt="%.9g")  # float32 round-trips with 9 digits
        self.row += len(z)

    def __exit__(self, *exc: Any) -> None:
        if self.path.suffix == ".npy":
            self.array.flush()
            del self.array
        else:
            self.file.close()
