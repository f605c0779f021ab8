"""Autoencoder benchmark on MNIST: one-class anomaly detection, denoising, and 16-d codes.

1. One-class anomaly detection, the protocol of Ruff et al. 2018 ("Deep One-Class Classification",
   ICML, Table 1): train on one digit's training images, score all 10,000 test images (the other
   digits are anomalies), ROC-AUC per digit and the mean. Published: DCAE 89.7, Deep SVDD 94.8.
   deepfeat's autoencoder and Deep SVDD, without and with autoencoder pretraining (settings chosen on
   validation data by select_svdd_pretraining.py), and the kNN distance in label-free VICReg features
   (examples/configs/mnist_oneclass_vicreg_knn.yaml's settings), and the standardized sum of that kNN distance and an
   autoencoder's reconstruction error (learner score_ensemble, examples/configs/mnist_oneclass_ensemble.yaml, chosen
   on validation data by select_mnist_oneclass.py). Side by side, on the same data: PCA reconstruction
   error, scikit-learn's IsolationForest and pyod's AutoEncoder (when pyod is installed). ``--digits``
   runs some normal digits only.
2. Denoising with Gaussian noise sigma = 0.5 on [0, 1] pixels (noisy input ~6 dB): test PSNR of
   examples/configs/mnist_denoising.yaml trained with ``deepfeat.fit``; PCA projection side by side.
3. 16-d codes: linear-probe and kNN accuracy of autoencoder codes, PCA-16 and raw pixels.
4. Tabular one-class detection (``--part tabular``): scikit-learn's iris, wine and breast_cancer, each
   class as the normal class in turn (train and val hold it only; test holds the test split's normal
   samples and every sample of the other classes). deepfeat's autoencoder, denoising autoencoder and
   Deep SVDD, VAE, label-free scores (kNN distance in masked-autoencoder and VICReg features,
   GOAD's transformation prediction), a normalizing flow's negative log-likelihood, GOAD and the flow summed, vs PCA reconstruction error, IsolationForest, LocalOutlierFactor(novelty=True)
   and OneClassSVM, all on the same standardized features (statistics of the normal training samples),
   settings fixed in advance (none tuned on these data). Mean ROC-AUC over the normal classes.

    DEEPFEAT_DATA=../shared/data python benchmarks/bench_autoencoders.py --quick   # ~2 min
    DEEPFEAT_DATA=../shared/data python benchmarks/bench_autoencoders.py           # full
    DEEPFEAT_DATA=../shared/data python benchmarks/bench_autoencoders.py --part denoise   # one part; others kept

Writes benchmarks/results/autoencoders.json (autoencoders_quick.json with --quick) and
autoencoders_denoising.png (input / corrupted / denoised test digits), and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import yaml
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

import deepfeat
from deepfeat.api import load_data
from deepfeat.data.datasets import load_dataset
from deepfeat.engine.device import resolve_precision
from deepfeat.engine.inference import collect
from deepfeat.engine.trainer import Trainer, TrainingConfig
from deepfeat.eval.probes import knn_accuracy, linear_probe
from deepfeat.eval.reconstruction import psnr
from deepfeat.learners.build import build_learner
from deepfeat.learners.knn_scores import FeatureBank

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("DEEPFEAT_DATA", str(ROOT.parent / "shared" / "data"))
RUFF = {"DCAE": [97.6, 98.3, 85.4, 86.7, 86.5, 78.2, 94.6, 92.3, 86.5, 90.4],
        "Deep SVDD (one-class)": [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5]}
ENCODER = {"name": "mlp", "hidden": [512, 128]}
# Deep SVDD's autoencoder pretraining (Ruff et al. 2018, section 4.1): the rate and epochs with the lowest
# validation reconstruction loss in benchmarks/select_svdd_pretraining.py (no test image scored there).
SVDD_PRETRAINED = {"name": "deep_svdd", "pretrain_epochs": 100, "pretrain_lr": 1e-3}
# The label-free row: kNN distance in VICReg features, every setting from the shipped example config.
LABEL_FREE_CONFIG = ROOT / "examples" / "configs" / "mnist_oneclass_vicreg_knn.yaml"
# The label-free ensemble row: chosen, with all its settings, on validation data by select_mnist_oneclass.py.
ENSEMBLE_CONFIG = ROOT / "examples" / "configs" / "mnist_oneclass_ensemble.yaml"
RESULTS = Path(os.environ.get("DEEPFEAT_BENCH_RESULTS", ROOT / "benchmarks" / "results"))  # elsewhere: e.g. $OUT
DENOISE_CONFIG = ROOT / "examples" / "configs" / "mnist_denoising.yaml"
SIGMA = 0.5  # the config's noise: Gaussian on [0, 1] pixels, unclipped
PCA_KS = (16, 32, 64)
PARTS = ("oneclass", "denoise", "codes", "tabular")
TABLES = ("iris", "wine", "breast_cancer")


def code_size(features: int) -> int:
    """The tables' code (and Deep SVDD representation) size for ``features`` columns, fixed in advance."""
    return max(2, features // 3)


# transform_prediction's table mode (GOAD): its network and steps, chosen on a development table that is not in the
# tabular part (select_table_scores.py --group goad: 64 maps, the distance softmax, 8 features, 1000 steps of 32).
GOAD_ROW = "deepfeat transform_prediction (GOAD: 64 random affine maps, centre distances)"
GOAD_SPEC = {"name": "transform_prediction", "count": 64}
GOAD_TRAINING = {"encoder": {"name": "mlp", "hidden": [64, 8]}, "steps_factor": 1000 / 300}
# GOAD's score summed with the autoencoder's (score_ensemble), chosen over GOAD alone and GOAD + VAE on the
# development table (select_table_scores.py --group ensemble); trained like the GOAD row.
ENSEMBLE_ROW = "deepfeat score_ensemble: GOAD + autoencoder"
# A normalizing flow's negative log-likelihood (RealNVP), chosen over GOAD on the development table
# (select_table_scores.py --group flow, then --group flow_noise); the benchmark's MLP [64, 32] as each coupling's
# conditioner, GOAD's 1000 steps.
FLOW_SPEC = {"name": "flow", "couplings": 8, "noise": 0.7}
FLOW_ROW = "deepfeat flow (RealNVP: 8 couplings, training noise 0.7; negative log-likelihood)"
# GOAD and the flow summed (score_ensemble), chosen over each alone on a development suite of four tables that are
# not in the tabular part (select_table_scores.py --group suite, then --group suite_ensemble); trained like GOAD.
GOAD_FLOW_ROW = "deepfeat score_ensemble: GOAD + flow"
MODES = {  # train images, test images, epochs per part
    "quick": {"limit": 10000, "test_limit": 2000, "oneclass_epochs": 8, "denoise_epochs": 2, "codes_epochs": 4,
              "tabular_steps": 150, "seeds": 1},
    "full": {"limit": None, "test_limit": None, "oneclass_epochs": 20, "denoise_epochs": None, "codes_epochs": 10,
             "tabular_steps": 300, "seeds": 3},
}


def mnist(mode: dict[str, Any], **kwargs: Any):
    spec = {"name": "mnist", "limit": mode["limit"], "test_limit": mode["test_limit"]}
    return load_dataset(spec, val_fraction=0.05, **kwargs)


def train(spec: dict[str, Any], data, epochs: int, lr: float = 1e-3, encoder: Any = ENCODER, batch_size: int = 128,
          weight_decay: float = 0.0, seed: int = 0, optimizer: str = "adam", **training: Any):
    """A deepfeat learner trained with the library's Trainer (``training``: more TrainingConfig fields); returns it
    and the wall time."""
    learner = build_learner(spec, data.info, encoder)
    t0 = time.perf_counter()
    cfg = TrainingConfig(epochs=epochs, batch_size=batch_size, progress="none", threads=torch.get_num_threads(), **training)
    Trainer(cfg, seed=seed).fit(learner, data, optimizer={"name": optimizer, "lr": lr, "weight_decay": weight_decay},
                                schedule={"name": "cosine"})
    return learner.eval(), time.perf_counter() - t0


def raw(data, split) -> np.ndarray:
    """Raw [0, 1] pixels of a split, flattened: (N, 784)."""
    mean, std = data.info.mean[0], data.info.std[0]
    return (split.x * std + mean).flatten(1).numpy()


def config_row(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The learner spec and training settings (for :func:`train`) of a shipped example config."""
    cfg = yaml.safe_load(path.read_text())
    t, opt = cfg["training"], cfg["optimizer"]
    settings = {"encoder": cfg["encoder"], "epochs": t["epochs"], "batch_size": t["batch_size"], "optimizer": opt["name"],
                "lr": opt["lr"], "weight_decay": opt.get("weight_decay", 0.0), "monitor": t["monitor"], "mode": t["mode"],
                "restore_best": t.get("restore_best", True)}
    return cfg["learner"], settings


def label_free_row() -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The row's name, learner spec and training settings, read from the shipped example config."""
    spec, settings = config_row(LABEL_FREE_CONFIG)
    return f"deepfeat {spec['name']} (k={spec['knn_k']}, {LABEL_FREE_CONFIG.name})", spec, settings


def ensemble_row() -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The ensemble row's name, learner spec and training settings, from its example config."""
    spec, settings = config_row(ENSEMBLE_CONFIG)
    members = " + ".join(m["name"] for m in spec["members"])
    return f"deepfeat {spec['name']} ({members}, {ENSEMBLE_CONFIG.name})", spec, settings


def one_class(mode: dict[str, Any], use_pyod: bool, digits: list[int], seeds: int = 1,
              on_digit: Callable[[dict[str, Any]], None] = lambda summary: None) -> dict[str, Any]:
    """ROC-AUC per normal digit; deepfeat's rows average ``seeds`` trainings (seed s: the same initial weights
    for every row, so Deep SVDD with and without pretraining start from the same network). ``on_digit`` gets the
    summary of the digits done so far after each digit (a long run keeps what it finished)."""
    rows: dict[str, dict[str, list[float]]] = {}
    per_seed: dict[str, list[list[float]]] = {}
    free_name, free_spec, free = label_free_row()

    def add(method: str, auc: float, seconds: float) -> None:
        rows.setdefault(method, {"auc": [], "time_s": []})
        rows[method]["auc"].append(100 * auc)
        rows[method]["time_s"].append(seconds)

    mlp = {"epochs": mode["oneclass_epochs"], "encoder": ENCODER}
    for done, digit in enumerate(digits, start=1):
        data = mnist(mode, normal_classes=[digit], score_heldout=False)  # the paper's protocol: the test set only
        labels = (data.test.y != digit).numpy()
        for method, spec, settings in (("deepfeat autoencoder", {"name": "autoencoder", "code_dim": 32}, mlp),
                                       ("deepfeat deep_svdd", {"name": "deep_svdd", "rep_dim": 32}, {**mlp, "weight_decay": 1e-6}),
                                       ("deepfeat deep_svdd + AE pretraining", {**SVDD_PRETRAINED, "rep_dim": 32},
                                        {**mlp, "weight_decay": 1e-6}),
                                       (free_name, free_spec, free), ensemble_row()):
            aucs, seconds, euclidean = [], 0.0, []
            for seed in range(seeds):
                torch.manual_seed(seed)
                learner, fit_s = train(spec, data, seed=seed, **settings)
                t0 = time.perf_counter()
                scores, _ = collect(learner, data.test, resolve_precision("fp32", torch.device("cpu"), learner),
                                    learner.score_samples)
                aucs.append(roc_auc_score(labels, scores))
                seconds += fit_s + time.perf_counter() - t0
                if method == free_name:  # the same training scored with knn_metric: euclidean (DN2's distance)
                    learner.bank = FeatureBank(learner.feature_dim, spec["knn_k"], metric="euclidean")
                    learner.on_fit_end(data.train.batches(1024), lambda x: x, contextlib.nullcontext)
                    euclidean.append(roc_auc_score(labels, collect(learner, data.test, resolve_precision(
                        "fp32", torch.device("cpu"), learner), learner.score_samples)[0]))
            per_seed.setdefault(method, []).append([100 * a for a in aucs])
            add(method, float(np.mean(aucs)), seconds)
            if euclidean:
                per_seed.setdefault(f"{free_name}, knn_metric euclidean", []).append([100 * a for a in euclidean])
                add(f"{free_name}, knn_metric euclidean", float(np.mean(euclidean)), 0.0)
        x_train, x_test = raw(data, data.train), raw(data, data.test)
        t0 = time.perf_counter()
        pca = PCA(32, random_state=0).fit(x_train)
        err = ((pca.inverse_transform(pca.transform(x_test)) - x_test) ** 2).mean(1)
        add("PCA-32 reconstruction error", roc_auc_score(labels, err), time.perf_counter() - t0)
        t0 = time.perf_counter()
        forest = IsolationForest(n_estimators=100, random_state=0).fit(x_train)
        add("sklearn IsolationForest", roc_auc_score(labels, -forest.score_samples(x_test)), time.perf_counter() - t0)
        if use_pyod:
            from pyod.models.auto_encoder import AutoEncoder

            t0 = time.perf_counter()
            model = AutoEncoder(epoch_num=mode["oneclass_epochs"], batch_size=128, verbose=0, random_state=0,
                                hidden_neuron_list=[512, 128, 32]).fit(x_train)
            add("pyod AutoEncoder", roc_auc_score(labels, model.decision_function(x_test)), time.perf_counter() - t0)
        print(f"  digit {digit}: " + "  ".join(f"{m} {r['auc'][-1]:.1f}" for m, r in rows.items()), flush=True)
        out: dict[str, Any] = {m: {"auc_per_digit": [round(a, 2) for a in r["auc"]],
                                   "mean_auc": round(float(np.mean(r["auc"])), 2),
                                   "time_s": round(float(np.sum(r["time_s"])), 1)} for m, r in rows.items()}
        for method, per_digit in per_seed.items():  # the mean over digits of each seed's run: the spread across seeds
            out[method]["mean_auc_per_seed"] = [round(float(v), 2) for v in np.mean(per_digit, axis=0)]
        summary = {**out, "digits": digits[:done], "seeds": seeds, "load_average": [round(v, 1) for v in os.getloadavg()]}
        on_digit(summary)
    return summary


def denoising(mode: dict[str, Any]) -> dict[str, Any]:
    """``deepfeat fit`` of examples/configs/mnist_denoising.yaml, then test PSNR under a fixed numpy noise draw.

    The run's own ``results.json`` PSNR (torch noise, seed 0) is reported too, and its
    input / corrupted / denoised grid is copied next to the JSON. Reference: PCA projection
    denoising (fit on clean training images; components chosen on the validation split).
    """
    overrides = ["training.progress=none", f"training.threads={torch.get_num_threads()}"]
    if mode["denoise_epochs"] is not None:  # full mode trains for the config's own epochs
        overrides.append(f"training.epochs={mode['denoise_epochs']}")
    if mode["limit"] is not None:
        overrides += [f"data.limit={mode['limit']}", f"data.test_limit={mode['test_limit']}"]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run = deepfeat.fit(DENOISE_CONFIG, out=Path(tmp) / "run", overrides=overrides)
        seconds = time.perf_counter() - t0
        shutil.copy(run.dir / "plots" / "reconstructions.png", RESULTS / "autoencoders_denoising.png")
    data, learner = load_data(run.config), run.learner.eval()
    clean = raw(data, data.test).reshape(-1, *data.info.input_shape)
    noisy = clean + SIGMA * np.random.default_rng(0).standard_normal(clean.shape).astype(np.float32)
    precision = resolve_precision(run.config.training.precision, torch.device("cpu"), learner)
    denoised = []
    with torch.no_grad(), precision.autocast():
        for chunk in torch.from_numpy(noisy).split(1000):
            out = learner.reconstruct(precision.prepare_input(learner.scale.from_raw(chunk)))
            denoised.append(learner.scale.to_raw(out.float()).numpy())
    own = run.results["evaluations"]["denoising"]
    return {"psnr_noisy": round(psnr(clean, noisy), 2), "psnr_denoised": round(psnr(clean, np.concatenate(denoised)), 2),
            "run_psnr_denoised": round(own["psnr_denoised"], 2), "run_ssim_denoised": round(own["ssim_denoised"], 3),
            "test_images": len(clean), "epochs": run.config.training.epochs, "precision": precision.name,
            "time_s": round(seconds, 1), "encoder": run.config.encoder, "learner": run.config.learner,
            "pca_projection": pca_denoising(data, clean, noisy), "target": 21.0}


def pca_denoising(data, clean: np.ndarray, noisy: np.ndarray) -> dict[str, Any]:
    """Project noisy images on the top-k principal components of clean training images; k picked on val."""
    t0 = time.perf_counter()
    pca = PCA(max(PCA_KS), random_state=0).fit(raw(data, data.train))
    rng = np.random.default_rng(1)
    val = raw(data, data.val)
    val_noisy = val + SIGMA * rng.standard_normal(val.shape).astype(np.float32)

    def project(x: np.ndarray, k: int) -> np.ndarray:
        codes = (x - pca.mean_) @ pca.components_[:k].T
        return np.clip(codes @ pca.components_[:k] + pca.mean_, 0, 1)

    k = max(PCA_KS, key=lambda k: psnr(val, project(val_noisy, k)))
    out = project(noisy.reshape(len(noisy), -1), k).reshape(clean.shape)
    return {"k": k, "psnr_denoised": round(psnr(clean, out), 2), "time_s": round(time.perf_counter() - t0, 1)}


def codes16(mode: dict[str, Any]) -> dict[str, Any]:
    data = mnist(mode)
    learner, seconds = train({"name": "autoencoder", "code_dim": 16}, data, mode["codes_epochs"])
    n = min(len(data.train), 10000)  # probes fitted on at most 10k training codes
    x_train, x_test = raw(data, data.train)[:n], raw(data, data.test)
    y_train, y_test = data.train.y[:n].numpy(), data.test.y.numpy()
    with torch.no_grad():
        ae = (learner.embed(data.train.x[:n]).numpy(), learner.embed(data.test.x).numpy())
    pca = PCA(16, random_state=0).fit(x_train)
    feats = {"deepfeat autoencoder (16-d)": ae, "PCA-16": (pca.transform(x_train), pca.transform(x_test)),
             "raw pixels (784-d)": (x_train, x_test)}
    out = {}
    for name, (ztr, zte) in feats.items():
        out[name] = {"linear_probe": round(linear_probe(ztr, y_train, zte, y_test, max_iter=300)["accuracy"], 4),
                     "knn_k5": round(knn_accuracy(ztr, y_train, zte, y_test, k=5, metric="euclidean")["accuracy"], 4)}
    out["autoencoder_train_time_s"] = round(seconds, 1)
    return out


def tabular(mode: dict[str, Any]) -> dict[str, Any]:
    """One-class ROC-AUC on scikit-learn tables, each class normal in turn; every method on the same standardized features."""
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.svm import OneClassSVM

    out: dict[str, Any] = {}
    for name in TABLES:
        probe = load_dataset(name)
        features, classes = probe.info.input_shape[0], probe.info.class_names
        code = code_size(features)
        mlp = {"name": "mlp", "hidden": [64, 32]}
        goad_member = {**GOAD_SPEC, "encoder": GOAD_TRAINING["encoder"]}  # GOAD as a score_ensemble member
        learners = {"deepfeat autoencoder": ({"name": "autoencoder", "code_dim": code}, 0.0),
                    "deepfeat denoising (gaussian 0.5 sd)": ({"name": "denoising", "code_dim": code,
                                                             "noise": {"name": "gaussian", "sigma": 0.5}}, 0.0),
                    "deepfeat deep_svdd": ({"name": "deep_svdd", "rep_dim": code}, 1e-6),
                    # Pretraining fixed in advance, not tuned here: as many epochs as the Deep SVDD training
                    # itself (set per table below), the learner's default rate.
                    "deepfeat deep_svdd + AE pretraining": ({"name": "deep_svdd", "rep_dim": code}, 1e-6),
                    # The negative ELBO adds the code's KL to the prior, a distance *along* the normal data's
                    # manifold that reconstruction errors miss (anomalies beyond the range of normal data).
                    "deepfeat vae (negative ELBO)": ({"name": "vae", "code_dim": code}, 0.0),
                    # Label-free scores: kNN distance (k 5) in the features of a masked autoencoder (75% of the
                    # features hidden) or of VICReg (views by SCARF's corruption of 60% of the features), the
                    # distance chosen on a development table (select_table_scores.py); GOAD's transformation prediction.
                    "deepfeat mae_knn (euclidean)": ({"name": "mae_knn", "knn_metric": "euclidean"}, 0.0),
                    "deepfeat vicreg_knn (euclidean, SCARF views)": ({"name": "vicreg_knn", "knn_metric": "euclidean"}, 0.0),
                    GOAD_ROW: (GOAD_SPEC, 0.0),
                    ENSEMBLE_ROW: ({"name": "score_ensemble", "members": [
                        goad_member, {"name": "autoencoder", "code_dim": code, "encoder": mlp}]}, 0.0),
                    FLOW_ROW: (FLOW_SPEC, 0.0),
                    GOAD_FLOW_ROW: ({"name": "score_ensemble", "members": [
                        goad_member, {**FLOW_SPEC, "encoder": mlp}]}, 0.0)}
        # rows trained GOAD's steps
        longer = {GOAD_ROW: GOAD_TRAINING["encoder"], ENSEMBLE_ROW: mlp, FLOW_ROW: mlp, GOAD_FLOW_ROW: mlp}
        rows: dict[str, list[float]] = {}
        for normal in classes:
            data = load_dataset(name, normal_classes=[normal], val_fraction=0.1, test_fraction=0.3)
            labels = (data.test.y != classes.index(normal)).numpy()
            x_train, x_test = data.train.x.numpy(), data.test.x.numpy()  # standardized with the normal training data
            epochs = max(1, mode["tabular_steps"] // data.train.num_batches(32))
            for method, (spec, wd) in learners.items():
                if method.endswith("+ AE pretraining"):
                    spec = {**spec, "pretrain_epochs": epochs}
                encoder = longer.get(method, mlp)
                factor = GOAD_TRAINING["steps_factor"] if method in longer else 1
                row_epochs = max(1, round(mode["tabular_steps"] * factor) // data.train.num_batches(32))
                aucs = []
                for seed in range(mode["seeds"]):
                    torch.manual_seed(seed)
                    learner, _ = train(spec, data, row_epochs, encoder=encoder, batch_size=32, weight_decay=wd, seed=seed)
                    scores, _ = collect(learner, data.test, resolve_precision("fp32", torch.device("cpu"), learner),
                                        learner.score_samples)
                    aucs.append(roc_auc_score(labels, scores))
                rows.setdefault(method, []).append(float(np.mean(aucs)))
            pca = PCA(code, random_state=0).fit(x_train)
            classical = {
                f"PCA-{code} reconstruction error": ((pca.inverse_transform(pca.transform(x_test)) - x_test) ** 2).mean(1),
                "sklearn IsolationForest": -IsolationForest(random_state=0).fit(x_train).score_samples(x_test),
                "sklearn LocalOutlierFactor (novelty)": -LocalOutlierFactor(novelty=True).fit(x_train).score_samples(x_test),
                "sklearn OneClassSVM (rbf, nu 0.1)": -OneClassSVM(nu=0.1).fit(x_train).score_samples(x_test),
            }
            for method, scores in classical.items():
                rows.setdefault(method.replace(f"-{code} ", " "), []).append(float(roc_auc_score(labels, scores)))
            print(f"  {name}, normal '{normal}': " + "  ".join(f"{m} {v[-1]:.3f}" for m, v in rows.items()), flush=True)
        out[name] = {"classes": classes, "features": features, "code_dim": code,
                     "auc_per_class": {m: [round(a, 4) for a in v] for m, v in rows.items()},
                     "mean_auc": {m: round(float(np.mean(v)), 4) for m, v in rows.items()}}
    methods = list(next(iter(out.values()))["mean_auc"])
    out["average"] = {m: round(float(np.mean([out[t]["mean_auc"][m] for t in TABLES])), 4) for m in methods}
    out["settings"] = {"steps": mode["tabular_steps"], "seeds": mode["seeds"], "encoder": {"name": "mlp", "hidden": [64, 32]},
                       "batch_size": 32, "optimizer": "adam 1e-3, cosine", "code_dim": "max(2, features // 3)",
                       "split": "val 0.1, test 0.3, held-out classes' train/val samples scored too (score_heldout)",
                       "svdd_pretraining": "pretrain_epochs = the training epochs, pretrain_lr 1e-3 (the default)",
                       "knn_metric": "euclidean, chosen on sklearn digits as vectors (select_table_scores.py)",
                       "transform_prediction": {"spec": GOAD_SPEC, **GOAD_TRAINING,
                                                "chosen": "on sklearn digits as vectors (select_table_scores.py --group goad)"},
                       "flow": {"spec": FLOW_SPEC, "encoder": mlp, "steps_factor": GOAD_TRAINING["steps_factor"],
                                "chosen": "on sklearn digits as vectors (select_table_scores.py --group flow, flow_noise)"},
                       "goad_flow": {"members": [GOAD_SPEC, FLOW_SPEC], "encoder": mlp,
                                     "steps_factor": GOAD_TRAINING["steps_factor"],
                                     "chosen": "on a development suite: sklearn digits, UCR ItalyPowerDemand, GunPoint, "
                                               "ArrowHead as vectors (select_table_scores.py --group suite, suite_ensemble)"}}
    return out


def table(results: dict[str, Any]) -> str:
    lines: list[str] = []
    if "tabular" in results:
        t = results["tabular"]
        lines += ["| one-class tables (mean ROC-AUC over normal classes) | " + " | ".join(TABLES) + " | average |",
                  "|---|" + "---|" * (len(TABLES) + 1)]
        lines += [f"| {m} | " + " | ".join(f"{t[n]['mean_auc'][m]:.3f}" for n in TABLES) + f" | **{avg:.3f}** |"
                  for m, avg in t["average"].items()]
        lines.append("")
    if "one_class" in results:
        digits = results["one_class"].get("digits", list(range(10)))
        lines += ["| one-class MNIST (ROC-AUC %) | mean | " + " | ".join(map(str, digits)) + " | time (s) |",
                  "|---|---|" + "---|" * len(digits) + "---|"]
        for name, r in results["one_class"].items():
            if isinstance(r, dict):
                spread = r.get("mean_auc_per_seed", [])
                sd = f" ± {np.std(spread):.1f}" if len(spread) > 1 else ""
                lines.append(f"| {name} | **{r['mean_auc']:.1f}**{sd} | " + " | ".join(f"{a:.1f}" for a in r["auc_per_digit"])
                             + f" | {r['time_s']} |")
        for name, per in RUFF.items():
            per = [per[d] for d in digits]
            lines.append(f"| {name}, Ruff et al. 2018 (published) | {np.mean(per):.1f} | " + " | ".join(map(str, per)) + " | |")
    if "denoising" in results:
        d = results["denoising"]
        pca = d["pca_projection"]
        lines += ["", f"| denoising, sigma {SIGMA} ({d['test_images']} test images) | PSNR (dB) | time (s) |", "|---|---|---|",
                  f"| noisy input | {d['psnr_noisy']} | |",
                  (f"| deepfeat denoising, {d['encoder']['name']} ({d['epochs']} epochs, {d['precision']}) "
                   f"| **{d['psnr_denoised']}** (target >= {d['target']}) | {d['time_s']} |"),
                  f"| PCA-{pca['k']} projection | {pca['psnr_denoised']} | {pca['time_s']} |"]
    if "codes16" in results:
        lines += ["", "| 16-d codes | linear probe | kNN (k=5) |", "|---|---|---|"]
        lines += [f"| {k} | {v['linear_probe']:.4f} | {v['knn_k5']:.4f} |" for k, v in results["codes16"].items() if isinstance(v, dict)]
    return "\n".join(lines)


def previous(path: Path, mode: str) -> dict[str, Any]:
    """The results file of an earlier or concurrent run in the same mode (its other parts are kept), else ``{}``."""
    if not path.exists():
        return {}
    old = json.loads(path.read_text())
    return old if old.get("mode") == mode else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k train / 2k test images, few epochs (~2 min)")
    parser.add_argument("--part", choices=("all", *PARTS), default="all",
                        help="run one part only; the other parts' numbers in the results file are kept")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for small MLPs on a busy CPU)")
    parser.add_argument("--no-pyod", action="store_true", help="skip pyod's AutoEncoder")
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)),
                        help="one-class part: the normal digits to run (default all 10)")
    parser.add_argument("--seeds", type=int, default=1,
                        help="one-class part: trainings per deepfeat row and digit, averaged (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    name = "quick" if args.quick else "full"
    mode = MODES[name]
    try:
        import pyod  # noqa: F401

        use_pyod = not args.no_pyod
    except ImportError:
        use_pyod = False
    parts = PARTS if args.part == "all" else (args.part,)
    out = RESULTS / ("autoencoders.json" if name == "full" else "autoencoders_quick.json")
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"mode": name, "settings": {**mode, "encoder": ENCODER, "threads": args.threads, "batch_size": 128,
                                               "pyod": use_pyod, "pythae": "not run", "denoise_config": DENOISE_CONFIG.name,
                                               "svdd_pretraining": SVDD_PRETRAINED, "label_free": label_free_row()[2],
                                               "ensemble": ensemble_row()[1:]}}
    t0 = time.perf_counter()

    def save_one_class(summary: dict[str, Any]) -> None:  # the file as it is now (another part may have written it)
        out.write_text(json.dumps({**previous(out, name), **results, "one_class": summary}, indent=2))

    if "oneclass" in parts:
        print("one-class anomaly detection:", flush=True)
        results["one_class"] = one_class(mode, use_pyod, args.digits, args.seeds, save_one_class)
    if "denoise" in parts:
        print("denoising:", flush=True)
        results["denoising"] = denoising(mode)
    if "codes" in parts:
        print("16-d codes:", flush=True)
        results["codes16"] = codes16(mode)
    if "tabular" in parts:
        print("one-class tables:", flush=True)
        results["tabular"] = tabular(mode)
    results["machine"] = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                          "torch": torch.__version__, "load_average": [round(v, 1) for v in os.getloadavg()],
                          f"time_s ({'+'.join(parts)})": round(time.perf_counter() - t0, 1)}
    results = {**previous(out, name), **results}  # the parts run now; the others as the file holds them now
    out.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\nwritten to {out} ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
