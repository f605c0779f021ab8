"""FSDD spoken digits: deepfeat's example config vs MFCC statistics + RBF SVM, official split and leave-one-speaker-out.

Baseline (scikit-learn, computed in the same run): per recording, 20 MFCCs and their first and second
deltas over its own frames (no padding), summarized by mean and std (120 numbers), standardized, RBF SVM
with C picked by 5-fold cross-validation on the training recordings only. deepfeat: ``deepfeat fit`` of
``examples/configs/fsdd_cnn.yaml`` (validation drawn from the training speakers/recordings; the test
set is never used for a choice). Leave-one-speaker-out trains on 5 speakers and tests on every
recording of the sixth, for each speaker in turn.

    python benchmarks/bench_fsdd.py --quick          # baseline everywhere, deepfeat 3 epochs, 2 held-out speakers
    python benchmarks/bench_fsdd.py                  # everything, the config's own epochs (long on 2 cores)
    python benchmarks/bench_fsdd.py --baseline-only  # seconds
    python benchmarks/bench_fsdd.py --jobs 7 --variant "plain=encoder.frontend.cmvn=none;encoder.augment.speed=1.0"
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _common import REPO, parallel, table, write_result

CONFIG = REPO / "examples" / "configs" / "fsdd_cnn.yaml"
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def recordings() -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Every FSDD recording at its own length (8 kHz), with digit, speaker and repetition index."""
    import soundfile as sf

    from deepfeat.data.datasets import data_root

    files = sorted((data_root() / "fsdd" / "recordings").glob("*.wav"))
    parts = [f.stem.split("_") for f in files]
    waves = [sf.read(f, dtype="float32")[0] for f in files]
    return (waves, np.array([int(p[0]) for p in parts]), np.array([p[1] for p in parts]),
            np.array([int(p[2]) for p in parts]))


def mfcc_stats(waves: list[np.ndarray]) -> np.ndarray:
    """(N, 120): mean and std over frames of 20 MFCCs + deltas + delta-deltas, each recording unpadded."""
    from deepfeat.nn.audio_frontend import MFCC

    mfcc = MFCC(8000, n_mfcc=20, n_mels=40, deltas=True)
    rows = []
    with torch.no_grad():
        for w in waves:
            c = mfcc(torch.from_numpy(w).view(1, 1, -1))[0]  # (60, frames)
            rows.append(torch.cat([c.mean(1), c.std(1)]).numpy())
    return np.stack(rows)


def svm_accuracy(x: np.ndarray, y: np.ndarray, train: np.ndarray) -> tuple[float, float]:
    """Test accuracy of the RBF SVM (C by 5-fold CV on the training part) and the seconds it took."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    start = time.perf_counter()
    search = GridSearchCV(make_pipeline(StandardScaler(), SVC()), {"svc__C": [1, 10, 100]}, cv=5)
    search.fit(x[train], y[train])
    return float(search.score(x[~train], y[~train])), time.perf_counter() - start


def deepfeat_accuracy(overrides: list[str], threads: int = 1) -> tuple[float, float]:
    """Test accuracy of ``deepfeat fit`` on the example config with ``overrides`` and its wall time."""
    import deepfeat

    torch.set_num_threads(threads)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = deepfeat.fit(str(CONFIG), out=Path(tmp) / "run", overrides=["logging.report=false",
                           "logging.plots=false", "evaluation.protocol=[]", *overrides])
        acc = float(run.results["test"]["test/acc"])
    return acc, time.perf_counter() - start


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``NAME=key=value;key=value`` (or ``NAME=``: the config as shipped) -> (NAME, overrides)."""
    name, _, sets = text.partition("=")
    return name, [o for o in sets.split(";") if o]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="deepfeat 3 epochs, 2 held-out speakers")
    parser.add_argument("--baseline-only", action="store_true", help="MFCC + SVM only (seconds)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (1 on shared machines)")
    parser.add_argument("--jobs", type=int, default=1, help="deepfeat runs at a time, each in its own process")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=KEY=VALUE;...",
                        help="also run the config with these overrides (an ablation); repeatable")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an override for every deepfeat run (e.g. training.max_steps=3 for a smoke run)")
    parser.add_argument("--deadline", type=float, default=None, help="seconds: runs not finished by then are dropped")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    waves, digits, speakers, reps = recordings()
    feats = mfcc_stats(waves)
    held_out = SPEAKERS[:2] if args.quick else SPEAKERS
    extra = (["training.epochs=3"] if args.quick else []) + args.set
    variants = [("config", [])] + [parse_variant(v) for v in args.variant]
    splits = [("official", reps >= 5, [])] + [
        (f"speaker {s}", speakers != s, ["data.split=speaker", f"data.test_speaker={s}"]) for s in held_out]
    rows = []
    for name, train, _ in splits:
        row = {"split": name, "test recordings": int((~train).sum())}
        row["MFCC+SVM acc"], row["MFCC+SVM s"] = svm_accuracy(feats, digits, train)
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
    if not args.baseline_only:
        tasks = [(tuple([*overrides, *sets, *extra]), args.threads) for _, _, overrides in splits for _, sets in variants]
        found = parallel(fit_task, tasks, args.jobs, args.deadline,
                         lambda task, result: print(task[0], result, file=sys.stderr, flush=True))
        for row, (_, _, overrides) in zip(rows, splits):
            for vname, sets in variants:
                result = found.get((tuple([*overrides, *sets, *extra]), args.threads))
                label = "deepfeat" if vname == "config" else f"deepfeat {vname}"
                if result is not None:
                    row[f"{label} acc"], row[f"{label} s"] = result
    loso = [r for r in rows if r["split"].startswith("speaker")]
    summary = {"split": f"leave-one-speaker-out mean ({len(loso)} speakers)"}
    columns = ["split", "test recordings"]
    for key in dict.fromkeys(k for r in rows for k in r if k.endswith(" acc")):  # every method, first-seen order
        columns += [key, key.replace(" acc", " s")]
        values = [r[key] for r in loso if key in r]
        if len(values) == len(loso):
            summary[key] = float(np.mean(values))
    rows.append(summary)
    mode = "baseline" if args.baseline_only else "quick" if args.quick else "full"
    path = write_result(f"fsdd_{mode}", {"mode": mode, "config": str(CONFIG.relative_to(REPO)), "jobs": args.jobs,
                                         "variants": dict(variants), "rows": rows})
    print(table(rows, columns))
    print(f"written: {path}")


def fit_task(overrides: tuple[str, ...], threads: int) -> tuple[float, float]:
    """A picklable task for :func:`parallel`."""
    return deepfeat_accuracy(list(overrides), threads)


if __name__ == "__main__":
    main()
