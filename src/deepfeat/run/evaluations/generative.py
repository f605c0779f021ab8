"""Evaluate a generator against its data: domain FID/KID, precision/recall, mode coverage.

The feature extractor is a classifier deepfeat trains on the same dataset (or one the user gives):
no pretrained network can be downloaded here, and Inception features of 8x8 digits would mean
little anyway. Those numbers are labelled as comparable only within deepfeat. With a local file of
the standard FID Inception weights (``evaluation.settings.generative.inception_weights``), the
paper-comparable FID and KID are
added through torchmetrics / torch-fidelity (a torchvision inception_v3 state dict loads too, labelled
as not comparable to papers).
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfeat.data.kinds import IMAGE_GRID, DataKind
from deepfeat.data.splits import DataBundle, TensorSplit
from deepfeat.engine.device import Precision
from deepfeat.engine.inference import infer
from deepfeat.run.model_io import export_model, load_model
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.errors import CheckpointError, ConfigError
from deepfeat.eval.generative import frechet_distance, kernel_distance, mode_coverage, precision_recall
from deepfeat.learners.base import Learner
from deepfeat.learners.build import build_learner
from deepfeat.learners.inference import Batch, run_batches
from deepfeat.reports.figures import save_figure
from deepfeat.reports.samples import rows_figure
from deepfeat.run.registries import FIGURES, RunContext, evaluation

DOMAIN_LABEL = "domain FID (deepfeat classifier features; comparable only within deepfeat)"
CLASSIFIER_DIR = "fid_classifier"
FID_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"  # torch-fidelity's port of the TF FID Inception


def _classifier_spec(kind: DataKind) -> tuple[dict[str, Any], dict[str, Any]]:
    if kind.spatial:
        # Three stages: the receptive field must span the digit before global pooling (two reach ~72% on MNIST).
        return {"name": "classifier"}, {"name": "cnn", "channels": [32, 64, 128], "norm": "batch"}
    return {"name": "classifier"}, {"name": "mlp", "hidden": [256, 128]}


def domain_classifier(data: DataBundle, cache_dir: Path | None = None, path: str | None = None,
                      seed: int = 0) -> Learner:
    """A learner that classifies ``data``'s classes: loaded from ``path``, from ``cache_dir``, or trained (and cached
    there).

    Trained for about 60,000 samples' worth of steps (3 to 30 epochs: 3 of MNIST, 30 of digits).
    """
    for folder in [Path(path)] if path else ([cache_dir] if cache_dir else []):
        if (folder / "model.json").is_file():
            learner, info = load_model(folder)
            if (not learner.can("classifies") or tuple(info.input_shape) != tuple(data.info.input_shape)
                    or info.num_classes != data.info.num_classes):
                raise CheckpointError(f"FID classifier at {folder}: expected a classifier of {data.info.input_shape} inputs and "
                                      f"{data.info.num_classes} classes, got {info.input_shape} and {info.num_classes}. "
                                      "Point evaluation.settings.generative.classifier to a deepfeat classifier of this dataset.")
            return learner
        if path:
            raise CheckpointError(f"evaluation.settings.generative.classifier {path}: expected an exported deepfeat model folder "
                                  "(model.json + model.safetensors). Export one with `deepfeat export RUN`.")
    spec, encoder = _classifier_spec(data.info.kind_spec)
    clf = build_learner(spec, data.info, encoder)
    epochs = int(np.clip(60000 // max(len(data.train), 1), 3, 30))
    cfg = TrainingConfig(epochs=epochs, batch_size=128, progress="none", restore_best=False, monitor="train/loss")
    Trainer(cfg, seed=seed).fit(clf, DataBundle(data.info, data.train), optimizer={"name": "adam", "lr": 2e-3},
                                schedule={"name": "cosine"})
    if cache_dir is not None:
        export_model(clf, data.info, spec, encoder, cache_dir)
    return clf.eval()


def _features(clf: Learner, x: torch.Tensor, precision: Precision, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(N, D)`` (a classifier's penultimate layer) and predicted classes ``(N,)`` of normalized inputs,
    from one pass of a learner that classifies."""
    def forward(batch: Batch) -> dict[str, torch.Tensor]:
        return clf.inference(batch, frozenset({"embed", "predict_proba"}))

    feats, preds = [], []
    for out, _, _ in infer(clf.to(precision.device), TensorSplit(x).batches(batch_size), precision, forward):
        feats.append(out["embed"].float().cpu())
        preds.append(out["predict_proba"].argmax(1).cpu())
    return torch.cat(feats).numpy(), torch.cat(preds).numpy()


@evaluation("generative", requires=("generates",), extras=("images",),  # FID and KID come from torchmetrics
            outputs={"fid_domain": float, "kid_domain": float, "kid_domain_std": float, "precision": float,
                     "recall": float, "classes_covered": int, "class_kl": float, "fid_inception": float,
                     "kid_inception": float, "kid_inception_std": float, "skipped": str})
def generative(ctx: RunContext, *, samples: int = 2000, classifier: str | None = None,
               inception_weights: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Domain FID/KID, precision/recall and mode coverage of ``samples`` generated samples against as many real ones.

    Real samples are the first ``samples`` of the test split (else val, else train); the generated ones
    come from a fixed ``seed``. ``classifier``: an exported deepfeat classifier of this dataset for the
    domain features (default: one trained here and cached in the run folder); ``inception_weights``: a
    local file of the FID Inception weights for paper-comparable FID/KID.
    """
    gan, data = ctx.learner, ctx.data
    name, split = ctx.eval_split()
    n = min(samples, len(split))
    real_x, real_y = next(iter(split.batches(n)))
    cache = ctx.run_dir / CLASSIFIER_DIR if ctx.run_dir is not None else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fake_x = data.info.normalize(gan.sample(n, seed=seed))
        out: dict[str, Any] = {}
        if data.info.num_classes >= 2 and real_y is not None:
            out.update(_domain_metrics(data, ctx.precision, cache, classifier, real_x, real_y, fake_x))
        if inception_weights:
            inception = inception_metrics(data.info.denormalize(real_x), data.info.denormalize(fake_x), inception_weights)
            out.update(inception, settings={**out.get("settings", {}), **inception["settings"]})
    if not out:
        return {"skipped": "unlabelled data and no inception_weights: no feature extractor"}
    out["settings"] = {**out.get("settings", {}), "real_split": name, "real_samples": n, "fake_samples": n,
                       "ema": bool(ctx.config.learner.get("ema_decay"))}
    return out


def _domain_metrics(data: DataBundle, precision: Precision, cache: Path | None, classifier: str | None,
                    real_x: torch.Tensor, real_y: torch.Tensor, fake_x: torch.Tensor) -> dict[str, Any]:
    clf = domain_classifier(data, cache, classifier)
    real_f, real_pred = _features(clf, real_x, precision)
    fake_f, fake_pred = _features(clf, fake_x, precision)
    kid, kid_std = kernel_distance(real_f, fake_f)
    pr = precision_recall(real_f, fake_f)
    cov = mode_coverage(real_y.numpy(), fake_pred, data.info.num_classes)
    source = classifier or (str(cache) if cache else "trained in memory")
    return {"fid_domain": frechet_distance(real_f, fake_f), "kid_domain": kid, "kid_domain_std": kid_std,
            "precision": pr["precision"], "recall": pr["recall"],
            "classes_covered": cov["classes_covered"], "class_kl": cov["class_kl"],
            "settings": {"features": DOMAIN_LABEL, "classifier": source,
                         "classifier_acc": float((real_pred == real_y.numpy()).mean()),
                         "feature_dim": int(real_f.shape[1]), "k": pr["settings"]["k"],
                         "coverage_min_fraction": cov["settings"]["min_fraction"]}}


def _inception_state(weights: str) -> tuple[dict[str, torch.Tensor] | None, str]:
    """Which Inception-v3 file ``weights`` is: (a converted state dict or None to load it as is, a label).

    torch-fidelity's FID file (fc of 1008 TensorFlow classes) gives the paper-comparable FID. A
    torchvision ``inception_v3`` state dict has the same trunk, so it loads too, without AuxLogits and
    with a zero fc (the 2048-d pool features never use it), labelled as not comparable to papers.
    """
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError) as e:  # what torch raises for other files
        raise ConfigError(f"learner.inception_weights {weights}: expected an Inception-v3 state dict saved with "
                          f"torch.save, got an unreadable file ({type(e).__name__}). Point it to {FID_WEIGHTS}.") from None
    fc = state.get("fc.weight") if isinstance(state, dict) else None
    if fc is None or tuple(fc.shape[1:]) != (2048,):
        raise ConfigError(f"learner.inception_weights {weights}: expected an Inception-v3 state dict (fc.weight of "
                          f"shape (classes, 2048)), got {'no fc.weight' if fc is None else tuple(fc.shape)}. "
                          f"Point it to {FID_WEIGHTS} or a torchvision inception_v3 state dict.")
    name = Path(weights).name
    if fc.shape[0] == 1008 and not any(k.startswith("AuxLogits.") for k in state):
        return None, f"Inception-v3 pool3, FID weights ({name}; comparable to papers)"
    state = {k: v for k, v in state.items() if not k.startswith("AuxLogits.")}
    state["fc.weight"], state["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)
    return state, f"Inception-v3 pool3, torchvision weights ({name}; not the FID weights: not comparable to papers)"


def inception_features(images: torch.Tensor, weights: str, batch_size: int = 100) -> tuple[np.ndarray, str]:
    """2048-d Inception-v3 pool features ``(N, 2048)`` of images ``(N, C, H, W)`` in [0, 1], and their label.

    ``weights`` is torch-fidelity's ``pt_inception-2015-12-05`` file (or a torchvision inception_v3
    state dict); the extractor takes uint8 RGB and resizes to 299x299 as the reference TensorFlow
    implementation does (Heusel et al. 2017); grey images are repeated.
    """
    if not Path(weights).is_file():
        raise ConfigError(f"learner.inception_weights {weights}: file not found. Point it to a local copy of "
                          f"{FID_WEIGHTS} (the FID Inception weights).")
    state, label = _inception_state(weights)
    with tempfile.TemporaryDirectory() as tmp:  # torch-fidelity loads only from a file
        path = weights if state is None else str(Path(tmp) / "inception.pth")
        if state is not None:
            torch.save(state, path)
        try:
            from torchmetrics.image.fid import NoTrainInceptionV3

            net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"], feature_extractor_weights_path=path)
        except ModuleNotFoundError as e:
            raise ConfigError(f"learner.inception_weights: standard FID needs torch-fidelity ({e}). "
                              "Install it with: pip install torch-fidelity") from None

    def features(batch: Batch) -> torch.Tensor:
        rgb = batch[0].expand(-1, 3, -1, -1) if batch[0].shape[1] == 1 else batch[0]
        return net((rgb * 255).round().to(torch.uint8)).float().reshape(len(rgb), -1)

    out = [f for f, _, _ in run_batches(net, TensorSplit(images).batches(batch_size), features)]
    return torch.cat(out).numpy(), label


def inception_metrics(real: torch.Tensor, fake: torch.Tensor, weights: str) -> dict[str, Any]:
    """Standard FID/KID from images in [0, 1] with local Inception weights; settings say which weights."""
    feats, label = inception_features(torch.cat([real, fake]), weights)  # one network load for both sets
    real_f, fake_f = feats[: len(real)], feats[len(real):]
    kid, kid_std = kernel_distance(real_f, fake_f)
    return {"fid_inception": frechet_distance(real_f, fake_f), "kid_inception": kid, "kid_inception_std": kid_std,
            "settings": {"inception_features": label, "inception_weights": str(weights)}}


@FIGURES.register("gan_samples")
def gan_samples(ctx: RunContext) -> list[Path]:
    """Latent interpolations and, for a conditional GAN, one row of samples per class (images only)."""
    learner, run_dir = ctx.learner, ctx.run_dir
    if learner.info.kind_spec.view != IMAGE_GRID:
        return []
    paths = []
    walks = learner.interpolate(steps=10, paths=6)
    rows = [(f"path {i + 1}", row) for i, row in enumerate(walks)]
    paths.append(save_figure(
        rows_figure(rows, "Latent interpolation", xlabel="z_a  \u2192  z_b (spherical interpolation)"),
        run_dir, "interpolation", title="Latent interpolation", section="Samples",
        caption="Each row walks from one random latent to another; smooth changes mean the generator learned a "
                "continuous map rather than memorizing samples."))
    if learner.num_classes:
        names = learner.info.class_names or [str(c) for c in range(learner.num_classes)]
        labels = torch.arange(learner.num_classes).repeat_interleave(10)
        x = learner.sample(len(labels), labels=labels, seed=0).view(learner.num_classes, 10, *learner.info.input_shape)
        paths.append(save_figure(rows_figure([(names[c], x[c]) for c in range(learner.num_classes)], "Samples by class"),
                                 run_dir, "samples_by_class", title="Samples by class", section="Samples",
                                 caption="Ten samples per requested class from the conditional generator."))
    return paths
