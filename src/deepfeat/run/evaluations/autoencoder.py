"""Evaluations and figures of learners that reconstruct or score: autoencoders, VAEs, sequence autoencoders.

``reconstruction`` measures MSE, PSNR (and SSIM for images) on the evaluation split; ``denoising`` the
same for corrupted inputs and their reconstructions; ``pca_baseline`` PCA with as many components as
the code; ``anomaly`` calibrates a threshold on the clean validation split and, in a one-class run
(train and val hold only some classes, see ``data.normal_classes``), reports ROC-AUC / average
precision with the other classes as anomalies. The threshold is stored in ``results.json`` under
``evaluations.anomaly.threshold``, where ``deepfeat score`` finds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from deepfeat.data.kinds import IMAGE_GRID, PSNR, SNR, SOUND, SSIM
from deepfeat.data.splits import DataBundle
from deepfeat.engine.device import Precision
from deepfeat.engine.inference import collect
from deepfeat.eval.anomaly import anomaly_labels, calibrate_threshold, detection_report, roc_points
from deepfeat.eval.probes import knn_accuracy, linear_probe
from deepfeat.eval.reconstruction import reconstruction_report, snr_db
from deepfeat.reports import ae_plots
from deepfeat.reports.figures import save_figure
from deepfeat.reports.samples import samples_figure
from deepfeat.run.evaluations.audio import sound_examples, sound_reconstructions
from deepfeat.run.registries import FIGURES, RunContext, evaluation, figure

QUANTILE = 0.95  # default calibration: about 5% of clean data is flagged
NOISE_SEED = 0  # corruptions for evaluation are drawn from a fixed seed, so reruns agree


def _raw(ctx: RunContext, split: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> tuple[np.ndarray, np.ndarray | None]:
    """``fn(x)`` over a split in the learner's working space (raw pixels; standardized features for tables, where
    errors in raw units would be those of the largest feature): ``(N, *input_shape)``, labels."""
    learner = ctx.learner
    return collect(learner, split, ctx.precision, lambda x: learner.scale.to_working(fn(x)), limit=ctx.max_samples)


def _data_range(reference: np.ndarray) -> float:
    # Pixels in [0, 1] have a range of 1 by definition; anything else uses the reference's own span.
    lo, hi = float(reference.min()), float(reference.max())
    return 1.0 if lo >= 0 and hi <= 1 else hi - lo


def one_class_targets(data: DataBundle, y: np.ndarray | None) -> tuple[np.ndarray | None, list[int]]:
    """Binary anomaly labels for class labels ``y`` (classes absent from training are anomalies), and the normal classes.

    ``None`` for the labels when ``y`` is missing or every class was seen in training (nothing is anomalous).
    """
    train_y = data.train.y
    if y is None or train_y is None:
        return None, []
    normal = sorted(int(c) for c in torch.unique(train_y).tolist())
    labels = anomaly_labels(y, normal)
    return (labels if 0 < labels.sum() < len(labels) else None), normal


def calibrate(learner: Any, data: DataBundle, precision: Precision, limit: int | None = None, **how: Any) -> dict[str, Any]:
    """Threshold from the scores of the clean validation split (the training split when there is none)."""
    name, split = ("val", data.val) if data.val is not None else ("train", data.train)
    scores, _ = collect(learner, split, precision, learner.score_samples, limit=limit)
    result = calibrate_threshold(scores, **how)
    result["settings"]["calibration_split"] = name
    return result


def _signal(ctx: RunContext) -> bool:
    """Whether the run's samples are signals (images, waveforms, series), which PSNR and SSIM measure; a table's
    features are not one (the data kind's ``measures``)."""
    return PSNR in ctx.data.info.kind_spec.measures


def _metric_extras(ctx: RunContext) -> tuple[str, ...]:
    """PSNR, SSIM and SNR come from torchmetrics (the ``images`` extra), for signals only."""
    return ("images",) if _signal(ctx) else ()


def _report(ctx: RunContext, clean: np.ndarray, estimate: np.ndarray, data_range: float) -> dict[str, Any]:
    return reconstruction_report(clean, estimate, data_range, SSIM in ctx.data.info.kind_spec.measures, _signal(ctx))


RECONSTRUCTION = {"mse": float, "psnr": float, "ssim": float}  # PSNR for signals, SSIM for images (reconstruction_report)


@evaluation("reconstruction", requires=("reconstructs",), extras=_metric_extras, outputs=RECONSTRUCTION)
def reconstruction(ctx: RunContext) -> dict[str, Any]:
    """MSE, PSNR (signals) and SSIM (images) of reconstructions of the evaluation split, in raw units."""
    name, split = ctx.eval_split()
    clean, _ = _raw(ctx, split, lambda x: x)
    recon, _ = _raw(ctx, split, ctx.learner.reconstruct)
    out = _report(ctx, clean, recon, _data_range(clean))
    out["settings"].update({"split": name, "samples": len(clean)})
    return out


@evaluation("denoising", requires=("denoises",), extras=_metric_extras,
            outputs={"psnr_noisy": float, "psnr_denoised": float, "psnr_gain": float, "mse_noisy": float,
                     "mse_denoised": float, "ssim_noisy": float, "ssim_denoised": float, "snr_noisy": float,
                     "snr_denoised": float, "snr_gain": float, "snr_gain_median": float})
def denoising(ctx: RunContext) -> dict[str, Any]:
    """MSE, PSNR (signals) and SSIM (images) of the corrupted input and of its reconstruction against the clean input."""
    learner = ctx.learner
    _, split = ctx.eval_split()

    def noisy_and_denoised(x: torch.Tensor) -> torch.Tensor:  # (B, 2, *input_shape), raw values
        noisy = learner.corrupt(x)
        return torch.stack([learner.scale.to_working(noisy), learner.scale.to_working(learner.reconstruct(noisy))], 1)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(NOISE_SEED)
        out, _ = collect(learner, split, ctx.precision, noisy_and_denoised, limit=ctx.max_samples)
    clean, _ = _raw(ctx, split, lambda x: x)
    data_range = _data_range(clean)
    noisy, denoised = _report(ctx, clean, out[:, 0], data_range), _report(ctx, clean, out[:, 1], data_range)
    return {**({"psnr_noisy": noisy["psnr"], "psnr_denoised": denoised["psnr"],
                "psnr_gain": denoised["psnr"] - noisy["psnr"]} if "psnr" in noisy else {}),
            "mse_noisy": noisy["mse"], "mse_denoised": denoised["mse"],
            **({"ssim_noisy": noisy["ssim"], "ssim_denoised": denoised["ssim"]} if "ssim" in noisy else {}),
            **(_snr(clean, out[:, 0], out[:, 1]) if SNR in ctx.data.info.kind_spec.measures else {}),
            "settings": {"noise": repr(learner.noise), "seed": NOISE_SEED, **denoised["settings"]}}


def _snr(clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray) -> dict[str, float]:
    """Waveform SNR in dB (mean over recordings) of the corrupted input and of the denoised output, and the gain.

    Outputting silence scores 0 dB, so a gain only means something next to the input SNR."""
    before, after = snr_db(clean, noisy), snr_db(clean, denoised)
    return {"snr_noisy": float(before.mean()), "snr_denoised": float(after.mean()),
            "snr_gain": float((after - before).mean()), "snr_gain_median": float(np.median(after - before))}


@evaluation("pca_baseline", requires=("reconstructs",), extras=_metric_extras,
            outputs={**RECONSTRUCTION, "anomaly_roc_auc": float, "linear_probe_accuracy": float, "knn_accuracy": float})
def pca_baseline(ctx: RunContext) -> dict[str, Any]:
    """PCA with ``code_dim`` components on the training inputs in the learner's working space (where its errors and
    scores are measured): its reconstruction and its codes' probes."""
    from sklearn.decomposition import PCA

    _, split = ctx.eval_split()
    clean, y = _raw(ctx, split, lambda x: x)
    train, train_y = _raw(ctx, ctx.data.train, lambda x: x)
    k = min(ctx.learner.code_dim, train.shape[0], int(np.prod(train.shape[1:])))
    pca = PCA(n_components=k, random_state=0).fit(train.reshape(len(train), -1))
    codes = pca.transform(clean.reshape(len(clean), -1))
    recon = pca.inverse_transform(codes).reshape(clean.shape)
    out = _report(ctx, clean, recon, _data_range(clean))
    labels, _ = one_class_targets(ctx.data, y)
    if labels is not None:  # PCA's reconstruction error as an anomaly score, in the space of the learner's score
        out["anomaly_roc_auc"] = detection_report(labels, ((recon - clean) ** 2).reshape(len(clean), -1).mean(1),
                                                  None)["roc_auc"]
    if train_y is not None and y is not None and len(np.unique(train_y)) >= 2:
        train_codes = pca.transform(train.reshape(len(train), -1))
        out["linear_probe_accuracy"] = linear_probe(train_codes, train_y, codes, y)["accuracy"]
        out["knn_accuracy"] = knn_accuracy(train_codes, train_y, codes, y, k=5)["accuracy"]
    out["settings"] = {**out["settings"], "n_components": k, "fit_on": "train (working space: raw pixels, standardized table features)", "knn_k": 5}
    return out


@evaluation("anomaly", requires=("scores",), needs=(("eval", "score_samples"),),
            outputs={"threshold": float, "roc_auc": float, "average_precision": float, "anomaly_rate": float,
                     "n": int, "precision": float, "recall": float, "false_positive_rate": float, "f1": float})
def anomaly(ctx: RunContext, *, quantile: float = QUANTILE) -> dict[str, Any]:
    """Threshold calibrated on clean data; in a one-class run, ROC-AUC / AP of ``score_samples`` on the test split."""
    name = ctx.eval_split()[0]
    result = calibrate(ctx.learner, ctx.data, ctx.precision, ctx.max_samples, quantile=quantile)
    scores, y = ctx.outputs.get("eval", "score_samples")
    labels, normal = one_class_targets(ctx.data, y)
    if labels is not None:
        result.update(detection_report(labels, scores, result["threshold"]))
        result["settings"].update({"split": name, "normal_classes": normal})
    return result


def _examples(split: Any, n: int = 10) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Up to ``n`` samples of a split, one per class where labelled, and their labels."""
    x, y = next(iter(split.batches(1024)))
    if y is None:
        return x[:n], None
    first = [int(torch.nonzero(y == c)[0]) for c in torch.unique(y)[:n]]
    idx = torch.tensor(first + [i for i in range(len(y)) if i not in first][: n - len(first)])
    return x[idx], y[idx]


@FIGURES.register("reconstructions")
def reconstructions(ctx: RunContext) -> list[Path]:
    """Inputs (corrupted inputs for a denoiser) and their reconstructions, one per class where labelled."""
    learner, names, sound = ctx.learner, ctx.data.info.class_names, ctx.data.info.kind_spec.view == SOUND
    name, split = ctx.eval_split()
    if sound:  # fewer examples, labelled with their metadata, drawn as spectrograms and clips
        x, sound_labels = sound_examples(ctx.data, name, split, 4)
        y = None
    else:
        x, y = _examples(split)
    learner.eval()
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(NOISE_SEED)
        x = ctx.precision.prepare_input(x)
        rows = {"input": x}
        if learner.can("denoises"):
            rows["corrupted"] = learner.corrupt(x)
            rows["denoised"] = learner.reconstruct(rows["corrupted"])
        else:
            rows["reconstruction"] = learner.reconstruct(x)
        rows = {k: learner.scale.to_raw(v.float()).cpu().numpy() for k, v in rows.items()}
    if sound:
        return sound_reconstructions(ctx, rows, sound_labels, name)
    labels = [names[int(c)] if names else str(int(c)) for c in y] if y is not None else None
    return [save_figure(ae_plots.reconstruction_grid(rows, labels), ctx.run_dir, "reconstructions",
                        title="Reconstructions", section="Autoencoder",
                        caption=f"{' / '.join(rows)} for {name} samples (one per class where labelled).")]


@FIGURES.register("vae_samples")
def vae_samples(ctx: RunContext) -> list[Path]:
    """Decoded draws from the prior (images only)."""
    if ctx.data.info.kind_spec.view != IMAGE_GRID:
        return []
    samples = ctx.learner.sample(32, seed=NOISE_SEED).float().cpu().numpy()
    return [save_figure(samples_figure(samples, "Samples from the prior", nrow=8), ctx.run_dir, "vae_samples",
                        title="Samples from the prior", section="Autoencoder",
                        caption="Decoded draws z ~ N(0, I): what the model generates.")]


@FIGURES.register("latent_traversal")
def latent_traversal(ctx: RunContext) -> list[Path]:
    """One sample's posterior mean with each latent unit swept over -3..3 (images only)."""
    if ctx.data.info.kind_spec.view != IMAGE_GRID:
        return []
    learner = ctx.learner
    x, _ = _examples(ctx.eval_split()[1], 1)
    with torch.no_grad():
        mu = learner.embed(ctx.precision.prepare_input(x[:1]))
        values = torch.linspace(-3, 3, 9)
        dims = list(range(min(learner.code_dim, 8)))
        z = mu.repeat(len(dims), len(values), 1)  # (D, S, code_dim)
        for row, d in enumerate(dims):
            z[row, :, d] = values.to(z.device)
        grid = learner.scale.to_raw(learner.decode(z.flatten(0, 1))).cpu().numpy()
    grid = grid.reshape(len(dims), len(values), *grid.shape[1:])
    return [save_figure(ae_plots.latent_traversal(grid, [f"z{d}" for d in dims], values.tolist()), ctx.run_dir,
                        "latent_traversal", title="Latent traversal", section="Autoencoder",
                        caption="Starting from one sample's posterior mean, each row sets one latent unit to -3..3 "
                                "(prior standard deviations); a unit that changes nothing is unused.")]


def _scores(ctx: RunContext) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Scores of the evaluation split, their one-class labels (or ``None``) and the recorded threshold."""
    scores, y = ctx.outputs.get("eval", "score_samples")
    labels, _ = one_class_targets(ctx.data, y)
    recorded = ctx.results.get("anomaly") or {}
    threshold = recorded.get("threshold")
    if threshold is None:
        threshold = calibrate(ctx.learner, ctx.data, ctx.precision, ctx.max_samples, quantile=QUANTILE)["threshold"]
    return scores, labels, float(threshold)


@figure("anomaly_scores", needs=(("eval", "score_samples"),))
def anomaly_scores(ctx: RunContext) -> list[Path]:
    """Histogram of ``score_samples`` on the evaluation split with the calibrated threshold."""
    scores, labels, threshold = _scores(ctx)
    name = ctx.eval_split()[0]
    return [save_figure(ae_plots.score_histogram(scores, labels, threshold), ctx.run_dir, "anomaly_scores",
                        title="Anomaly scores", section="Anomaly detection",
                        caption=f"Per-sample anomaly scores on the {name} split; the dashed line is the threshold "
                                "calibrated on clean validation scores.")]


@figure("roc_curve", needs=(("eval", "score_samples"),))
def roc_curve(ctx: RunContext) -> list[Path]:
    """The ROC curve of a one-class run (classes absent from training are the anomalies); none otherwise."""
    scores, labels, threshold = _scores(ctx)
    if labels is None:
        return []
    fpr, tpr, _ = roc_points(labels, scores)
    report = detection_report(labels, scores, threshold)
    point = (report["false_positive_rate"], report["recall"])
    return [save_figure(ae_plots.roc_plot(fpr, tpr, report["roc_auc"], point), ctx.run_dir, "roc_curve",
                        title="ROC curve", section="Anomaly detection",
                        caption="Classes absent from training are the anomalies; the dot is the calibrated threshold.")]
