"""GAN benchmark (issue 5): DCGAN and WGAN-GP on MNIST, scored with one shared MNIST classifier.

1. Train one MNIST classifier (deepfeat's domain feature extractor) and share it, so both models'
   domain FIDs use the same features and compare with each other.
2. A reference row: held-out real MNIST against real training images through that classifier, the
   floor every metric can reach (FID ~ 0, precision/recall ~ 1, 10/10 classes, KL ~ 0).
3. ``deepfeat fit`` with examples/configs/mnist_dcgan.yaml and mnist_wgan_gp.yaml; the sample grids
   are copied to benchmarks/results/ for the docs (docs/benchmarks/gans.md).
4. Speed: the same DCGAN networks trained by a hand-written PyTorch loop for the same steps, so the
   ratio shows what the engine (callbacks, validation, checkpoints) costs per step.

Targets (issue 5): 10 of 10 classes, class-histogram KL <= 0.05. Published anchors need Inception
features (evaluation.settings.generative.inception_weights): Lucic et al. 2018, "Are GANs Created Equal?", best MNIST FID
about 6.7-10; domain FIDs here are not comparable to those.

    python benchmarks/bench_gan.py [--quick] [--models dcgan wgan_gp] [--threads 1] [--classifier DIR]

``--speed-only`` times one DCGAN epoch through ``deepfeat fit`` against the hand-written loop, back to
back (benchmarks/results/gan_speed.json). Full runs use the epochs of the example configs; ``--models`` reruns some models and keeps the
other rows of the result file. Each row records the load average, since a shared machine slows it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from _common import REPO, RESULTS, table, write_result
import deepfeat
from deepfeat.api import load_data
from deepfeat.config import load_config
from deepfeat.engine.device import resolve_device, resolve_precision
from deepfeat.engine.seeding import seed_everything
from deepfeat.run.evaluations.generative import DOMAIN_LABEL, _features, domain_classifier
from deepfeat.eval.generative import frechet_distance, kernel_distance, mode_coverage, precision_recall
from deepfeat.learners.build import build_learner

CONFIGS = {"dcgan": "examples/configs/mnist_dcgan.yaml", "wgan_gp": "examples/configs/mnist_wgan_gp.yaml"}
REFERENCE = "real MNIST (reference)"
METRICS = ["fid_domain", "kid_domain", "precision", "recall", "classes_covered", "class_kl"]


def real_reference(data: Any, clf_dir: Path, n: int) -> dict[str, Any]:
    """Metrics of n held-out real images against n training images: the best any generator can score."""
    clf = domain_classifier(data, clf_dir)
    precision = resolve_precision("fp32", resolve_device("auto"), clf)
    test_x, test_y = next(iter(data.test.batches(n)))
    train_x, _ = next(iter(data.train.batches(n)))
    real_f, real_pred = _features(clf, test_x, precision)
    other_f, other_pred = _features(clf, train_x, precision)
    pr = precision_recall(real_f, other_f)
    cov = mode_coverage(test_y.numpy(), other_pred, 10)
    return {"model": REFERENCE, "fid_domain": frechet_distance(real_f, other_f),
            "kid_domain": kernel_distance(real_f, other_f)[0], "precision": pr["precision"], "recall": pr["recall"],
            "classes_covered": cov["classes_covered"], "class_kl": cov["class_kl"],
            "classifier_acc": float((real_pred == test_y.numpy()).mean())}


def run_model(name: str, overrides: list[str], out: Path, tag: str) -> dict[str, Any]:
    """``deepfeat fit`` one config; its generative metrics, wall time and warnings; its grid copied."""
    run = deepfeat.fit(REPO / CONFIGS[name], out=out / name, overrides=overrides)
    ev, fit = run.results["evaluations"], run.results["fit"]
    grid = RESULTS / f"gan_{name}{tag}_samples.png"
    shutil.copy(run.dir / "plots" / "samples.png", grid)
    shutil.copy(run.dir / "plots" / "samples_by_epoch.png", RESULTS / f"gan_{name}{tag}_by_epoch.png")
    gen = ev["generative"]
    return {"model": name, "epochs": fit["epochs"], "steps": fit["steps"], "time_s": fit["time_s"],
            "s_per_step": fit["time_s"] / fit["steps"], **{k: gen[k] for k in METRICS},
            "warnings": ", ".join(k for k in ev["gan_monitor"] if k not in ("count", "settings")) or "none",
            "linear_probe": ev.get("linear_probe", {}).get("accuracy"), "map_at_r": ev.get("retrieval", {}).get("map_at_r"),
            "grid": str(grid.relative_to(REPO))}


def reference_loop(overrides: list[str], steps: int) -> float:
    """Seconds per step of a hand-written DCGAN loop: same networks, batches and precision, nothing else."""
    cfg = load_config(REPO / CONFIGS["dcgan"], overrides)
    seed_everything(0)
    data = load_data(cfg)
    gan = build_learner(cfg.learner, data.info, cfg.encoder)
    p = resolve_precision("auto", resolve_device("auto"), gan)  # the precision deepfeat's run picks
    gan = p.prepare_model(gan)
    critic = torch.nn.ModuleList([gan.encoder, gan.head])
    opt_d = torch.optim.Adam(critic.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(gan.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    batches = data.train.batches(cfg.training.batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    for i, (x, _) in enumerate(batches):
        if i == steps:
            break
        x = p.prepare_input(x)
        with p.autocast():
            fake = gan.info.normalize((gan.generator(torch.randn(len(x), gan.latent_dim, device=x.device)) + 1) / 2)
            d_real, d_fake = gan.head(gan.encoder(x)).float(), gan.head(gan.encoder(fake.detach())).float()
        d_loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        with p.autocast():
            g_loss = F.softplus(-gan.head(gan.encoder(fake)).float()).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
    return (time.perf_counter() - t0) / steps


def speed_only(threads: int) -> None:
    """One DCGAN epoch through ``deepfeat fit`` (validation, callbacks, grids included) against the hand-written
    loop, back to back in one process, so both see the same load: seconds per step and their ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        run = deepfeat.fit(REPO / CONFIGS["dcgan"], out=Path(tmp) / "dcgan", overrides=[
            "training.epochs=1", "training.progress=none", f"training.threads={threads}", "evaluation.settings.generative.samples=1000",
            "evaluation.embedding_plots=[]", "evaluation.protocol=[knn]"])
    fit = run.results["fit"]
    hand = reference_loop([], steps=300)
    speed = {"epochs": 1, "steps": fit["steps"], "deepfeat_s_per_step": fit["time_s"] / fit["steps"],
             "hand_written_s_per_step": hand, "ratio": fit["time_s"] / fit["steps"] / hand,
             "load_avg": [round(v, 2) for v in os.getloadavg()], "threads": threads}
    print(json.dumps(speed, indent=1))
    print(f"written {write_result('gan_speed', speed)}")


def merge_rows(previous: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` plus the rows of models not rerun now from a previous result file, reference first."""
    fresh = {r["model"] for r in rows}
    kept = [r for r in json.loads(previous.read_text())["rows"] if r["model"] not in fresh] if previous.is_file() else []
    order = [REFERENCE, *CONFIGS]
    return sorted(kept + rows, key=lambda r: order.index(r["model"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k training images, 2 epochs each (~3 min on 2 free cores)")
    parser.add_argument("--models", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                        help="rerun only these; the other rows of the result file are kept")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the machine is shared)")
    parser.add_argument("--classifier", type=Path, help="folder of the shared MNIST classifier: loaded if there, "
                        "else trained and saved there (default: a temporary folder)")
    parser.add_argument("--speed-only", action="store_true", help="only the engine-vs-loop speed (one DCGAN epoch)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.speed_only:
        return speed_only(args.threads)
    tag = "_quick" if args.quick else ""
    limit = ["data.limit=10000", "data.test_limit=2000"] if args.quick else []
    epochs = ["training.epochs=2"] if args.quick else []  # full runs: the epochs of the example configs
    n_eval = 2000 if args.quick else 5000
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        seed_everything(0)
        data = load_data(load_config(REPO / CONFIGS["dcgan"], limit))
        clf_dir = args.classifier or out / "fid_classifier"
        rows = [real_reference(data, clf_dir, n_eval)]
        common = limit + epochs + ["training.progress=none", f"training.threads={args.threads}",
                                   f"evaluation.settings.generative.classifier={clf_dir}",
                                   f"evaluation.settings.generative.samples={n_eval}", "evaluation.embedding_plots=[]"]
        for name in args.models:
            rows.append({**run_model(name, common, out, tag), "load_avg": [round(v, 2) for v in os.getloadavg()]})
        hand = reference_loop(limit, steps=50) if "dcgan" in args.models else None
    previous = RESULTS / f"gan{tag}.json"
    speed = json.loads(previous.read_text())["speed"] if hand is None and previous.is_file() else None
    if hand is not None:
        dc = next(r for r in rows if r["model"] == "dcgan")
        speed = {"deepfeat_s_per_step": dc["s_per_step"], "hand_written_s_per_step": hand,
                 "ratio": dc["s_per_step"] / hand,  # meaningful only when the load was alike for both
                 "load_avg": [round(v, 2) for v in os.getloadavg()]}
    rows = merge_rows(previous, rows)
    print(f"features: {DOMAIN_LABEL}; classifier accuracy on MNIST test {rows[0]['classifier_acc']:.4f}")
    print(table(rows, ["model", "epochs", "time_s", *METRICS, "linear_probe", "map_at_r", "warnings", "load_avg"]))
    if speed:
        print(f"DCGAN speed: deepfeat {speed['deepfeat_s_per_step']:.3f} s/step (incl. validation, callbacks, grids) "
              f"vs hand-written loop {speed['hand_written_s_per_step']:.3f} s/step: ratio {speed['ratio']:.2f}")
    published = "Lucic et al. 2018: best Inception FID on MNIST about 6.7-10 (not comparable to domain FID)"
    path = write_result(f"gan{tag}", {"features": DOMAIN_LABEL, "rows": rows, "speed": speed, "published": published,
                                     "targets": {"classes_covered": 10, "class_kl_max": 0.05}})
    print(f"written {path}")


if __name__ == "__main__":
    main()
