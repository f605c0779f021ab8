"""Evaluation and plots of a trained autoencoder or VAE: the ``evaluate_run`` / ``plot_run`` hooks' work.

After training, :func:`evaluate_autoencoder` measures reconstruction (MSE, PSNR, SSIM) on the test
split, denoising gain for denoising learners, a PCA baseline with the same number of components,
and calibrates the anomaly threshold on the clean validation split. In a one-class setup (train and
val hold only some classes, see ``data.train_classes``) test samples of the other classes are
anomalies, and ROC-AUC / average precision are reported. The threshold is stored in
``results.json`` under ``evaluations.anomaly.threshold``, where ``deepfeat score`` finds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfeat.data.splits import DataBundle
from deepfeat.engine.device import Precision
from deepfeat.engine.inference import collect
from deepfeat.eval.anomaly import anomaly_labels, calibrate_threshold, detection_report, roc_points
from deepfeat.eval.probes import knn_accuracy, linear_probe
from deepfeat.eval.reconstruction import reconstruction_report
from deepfeat.reports import ae_plots
from deepfeat.reports.samples import samples_figure
from deepfeat.reports.figures import save_figure

MAX_SAMPLES = 10000
QUANTILE = 0.95  # default calibration: about 5% of clean data is flagged
NOISE_SEED = 0  # corruptions for evaluation are drawn from a fixed seed, so reruns agree


def eval_split(data: DataBundle) -> tuple[str, Any]:
    """The split evaluations use: ``("test", split)``, else validation, else training."""
    return ("test", data.test) if data.test is not None else ("val", data.val) if data.val is not None else ("train", data.train)


def _raw(learner: Any, split: Any, precision: Precision, fn: Any, limit: int = MAX_SAMPLES) -> tuple[np.ndarray, np.ndarray | None]:
    """``to_raw(fn(x))`` over a split: ``(N, *input_shape)`` and labels."""
    return collect(learner, split, precision, lambda x: learner.scale.to_raw(fn(x)), limit=limit)


def _data_range(reference: np.ndarray) -> float:
    # Pixels in [0, 1] have a range of 1 by definition; anything else uses the reference's own span.
    lo, hi = float(reference.min()), float(reference.max())
    return 1.0 if lo >= 0 and hi <= 1 else hi - lo


def one_class_targets(data: DataBundle, y: np.ndarray | None) -> tuple[np.ndarray | None, list[int]]:
    """Binary anomaly labels for class labels ``y`` (classes absent from training are anomalies), and the normal classes.

    ``None`` for the labels when ``y`` is missing or every class was seen in training (nothing is anomalous).
    """
    train_y = getattr(data.train, "y", None)
    if y is None or train_y is None:
        return None, []
    normal = sorted(int(c) for c in torch.unique(train_y).tolist())
    labels = anomaly_labels(y, normal)
    return (labels if 0 < labels.sum() < len(labels) else None), normal


def calibrate(learner: Any, data: DataBundle, precision: Precision, **how: Any) -> dict[str, Any]:
    """Threshold from the scores of the clean validation split (the training split when there is none)."""
    name, split = ("val", data.val) if data.val is not None else ("train", data.train)
    scores, _ = collect(learner, split, precision, learner.score_samples, limit=MAX_SAMPLES)
    result = calibrate_threshold(scores, **how)
    result["settings"]["calibration_split"] = name
    return result


def _denoising(learner: Any, split: Any, precision: Precision, data_range: float, images: bool) -> dict[str, Any]:
    """PSNR/SSIM of the corrupted input and of its reconstruction against the clean input."""
    def noisy_and_denoised(x: torch.Tensor) -> torch.Tensor:  # (B, 2, *input_shape), raw values
        noisy = learner.corrupt(x)
        return torch.stack([learner.scale.to_raw(noisy), learner.scale.to_raw(learner.reconstruct(noisy))], 1)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(NOISE_SEED)
        out, _ = collect(learner, split, precision, noisy_and_denoised, limit=MAX_SAMPLES)
    clean, _ = _raw(learner, split, precision, lambda x: x)
    noisy = reconstruction_report(clean, out[:, 0], data_range, images)
    denoised = reconstruction_report(clean, out[:, 1], data_range, images)
    return {"psnr_noisy": noisy["psnr"], "psnr_denoised": denoised["psnr"], "psnr_gain": denoised["psnr"] - noisy["psnr"],
            "mse_noisy": noisy["mse"], "mse_denoised": denoised["mse"],
            **({"ssim_noisy": noisy["ssim"], "ssim_denoised": denoised["ssim"]} if images else {}),
            "settings": {"noise": repr(learner.noise), "seed": NOISE_SEED, **denoised["settings"]}}


def _pca_baseline(learner: Any, data: DataBundle, precision: Precision, clean: np.ndarray, y: np.ndarray | None,
                  data_range: float, images: bool) -> dict[str, Any]:
    """PCA with ``code_dim`` components on raw training inputs: its reconstruction and its codes' probes."""
    from sklearn.decomposition import PCA

    train, train_y = _raw(learner, data.train, precision, lambda x: x)
    k = min(learner.code_dim, train.shape[0], int(np.prod(train.shape[1:])))
    pca = PCA(n_components=k, random_state=0).fit(train.reshape(len(train), -1))
    flat = clean.reshape(len(clean), -1)
    codes = pca.transform(flat)
    recon = pca.inverse_transform(codes).reshape(clean.shape)
    out = reconstruction_report(clean, recon, data_range, images)
    if train_y is not None and y is not None and len(np.unique(train_y)) >= 2:
        train_codes = pca.transform(train.reshape(len(train), -1))
        out["linear_probe_accuracy"] = linear_probe(train_codes, train_y, codes, y)["accuracy"]
        out["knn_accuracy"] = knn_accuracy(train_codes, train_y, codes, y, k=5)["accuracy"]
    out["settings"] = {**out["settings"], "n_components": k, "fit_on": "train (raw inputs)", "knn_k": 5}
    return out


def evaluate_autoencoder(learner: Any, data: DataBundle, precision: Precision) -> dict[str, Any]:
    """``{"reconstruction", "denoising" (with noise), "pca_baseline", "anomaly"}``, each with its settings."""
    name, split = eval_split(data)
    images = data.info.kind == "image"
    clean, y = _raw(learner, split, precision, lambda x: x)
    recon, _ = _raw(learner, split, precision, learner.reconstruct)
    data_range = _data_range(clean)
    results: dict[str, Any] = {"reconstruction": reconstruction_report(clean, recon, data_range, images)}
    results["reconstruction"]["settings"].update({"split": name, "samples": len(clean)})
    if getattr(learner, "noise", None) is not None:
        results["denoising"] = _denoising(learner, split, precision, data_range, images)
    results["pca_baseline"] = _pca_baseline(learner, data, precision, clean, y, data_range, images)
    results["anomaly"] = evaluate_anomaly(learner, data, precision)
    return results


def evaluate_anomaly(learner: Any, data: DataBundle, precision: Precision) -> dict[str, Any]:
    """Threshold calibrated on clean data; in a one-class run, ROC-AUC / AP of ``score_samples`` on the test split."""
    name, split = eval_split(data)
    anomaly = calibrate(learner, data, precision, quantile=QUANTILE)
    scores, y = collect(learner, split, precision, learner.score_samples, limit=MAX_SAMPLES)
    labels, normal = one_class_targets(data, y)
    if labels is not None:
        anomaly.update(detection_report(labels, scores, anomaly["threshold"]))
        anomaly["settings"].update({"split": name, "normal_classes": normal})
    return anomaly


def _examples(split: Any, n: int = 10) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Up to ``n`` samples of a split, one per class where labelled, and their labels."""
    x, y = next(iter(split.batches(1024)))
    if y is None:
        return x[:n], None
    first = [int(torch.nonzero(y == c)[0]) for c in torch.unique(y)[:n]]
    idx = torch.tensor(first + [i for i in range(len(y)) if i not in first][: n - len(first)])
    return x[idx], y[idx]


def plot_autoencoder(learner: Any, run_dir: Path, data: DataBundle, precision: Precision) -> list[Path]:
    """Reconstruction grid, VAE samples and traversal, anomaly-score histogram and ROC curve."""
    name, split = eval_split(data)
    names = data.info.class_names
    x, y = _examples(split)
    learner.eval()
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(NOISE_SEED)
        x = precision.prepare_input(x)
        corrupted = learner.corrupt(x)
        rows = {"input": x}
        if corrupted is not x:
            rows["corrupted"] = corrupted
        rows["denoised" if "corrupted" in rows else "reconstruction"] = learner.reconstruct(corrupted)
        rows = {k: learner.scale.to_raw(v.float()).cpu().numpy() for k, v in rows.items()}
    labels = [names[int(c)] if names else str(int(c)) for c in y] if y is not None else None
    paths = [save_figure(ae_plots.reconstruction_grid(rows, labels), run_dir, "reconstructions",
                         title="Reconstructions", section="Autoencoder",
                         caption=f"{' / '.join(rows)} for {name} samples (one per class where labelled).")]
    if hasattr(learner, "sample") and data.info.kind == "image":
        paths += _plot_generative(learner, run_dir, x)
    paths += plot_anomaly(learner, run_dir, data, precision)
    return paths


def _plot_generative(learner: Any, run_dir: Path, x: torch.Tensor) -> list[Path]:
    with torch.no_grad():
        samples = learner.scale.to_raw(learner.sample(32, torch.Generator().manual_seed(NOISE_SEED))).cpu().numpy()
        mu = learner.embed(x[:1])
        values = torch.linspace(-3, 3, 9)
        dims = list(range(min(learner.code_dim, 8)))
        z = mu.repeat(len(dims), len(values), 1)  # (D, S, code_dim)
        for row, d in enumerate(dims):
            z[row, :, d] = values.to(z.device)
        grid = learner.scale.to_raw(learner.decode(z.flatten(0, 1))).cpu().numpy()
    grid = grid.reshape(len(dims), len(values), *grid.shape[1:])
    return [
        save_figure(samples_figure(samples, "Samples from the prior", nrow=8), run_dir, "vae_samples", title="Samples from the prior",
                    section="Autoencoder", caption="Decoded draws z ~ N(0, I): what the model generates."),
        save_figure(ae_plots.latent_traversal(grid, [f"z{d}" for d in dims], values.tolist()), run_dir,
                    "latent_traversal", title="Latent traversal", section="Autoencoder",
                    caption="Starting from one sample's posterior mean, each row sets one latent unit to -3..3 "
                            "(prior standard deviations); a unit that changes nothing is unused."),
    ]


def plot_anomaly(learner: Any, run_dir: Path, data: DataBundle, precision: Precision) -> list[Path]:
    """Histogram of ``score_samples`` on the test split with the threshold; the ROC curve in a one-class run."""
    name, split = eval_split(data)
    scores, y = collect(learner, split, precision, learner.score_samples, limit=MAX_SAMPLES)
    labels, _ = one_class_targets(data, y)
    threshold = calibrate(learner, data, precision, quantile=QUANTILE)["threshold"]
    paths = [save_figure(ae_plots.score_histogram(scores, labels, threshold), run_dir, "anomaly_scores",
                         title="Anomaly scores", section="Anomaly detection",
                         caption=f"Per-sample anomaly scores on the {name} split; the dashed line is the threshold "
                                 f"calibrated as the {QUANTILE:.0%} quantile of clean validation scores.")]
    if labels is not None:
        fpr, tpr, _ = roc_points(labels, scores)
        report = detection_report(labels, scores, threshold)
        point = (report["false_positive_rate"], report["recall"])
        paths.append(save_figure(ae_plots.roc_plot(fpr, tpr, report["roc_auc"], point), run_dir, "roc_curve",
                                 title="ROC curve", section="Anomaly detection",
                                 caption="Classes absent from training are the anomalies; the dot is the calibrated threshold."))
    return paths
