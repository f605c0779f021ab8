"""Time-series classification: deepfeat's encoders against ROCKET, MiniRocket and 1-NN Euclidean (aeon's).

Every classification problem aeon ships (offline), one fixed config per encoder for all problems (no
per-problem tuning), the problem's own train/test split, accuracy on the test split. Every method sees
the same arrays: the series as deepfeat loads them (per-channel standardized with training statistics;
unequal lengths zero-padded). The baselines run in the same process, so wall times compare.

    python benchmarks/bench_timeseries.py            # quick: 4 small problems, fcn + inception, 1 seed
    python benchmarks/bench_timeseries.py --full     # all 8 problems, 3 encoders, 3 seeds
    python benchmarks/bench_timeseries.py --problems GunPoint --encoders fcn --seeds 1 --epochs 50
    python benchmarks/bench_timeseries.py --full --jobs 12 --deadline 480   # on a many-core machine (a GPU is used)

Published InceptionTime accuracies (Ismail Fawaz et al. 2020: an ensemble of 5 networks, 1500 epochs each) are
listed for the UCR problems where they exist (BasicMotions and JapaneseVowels are UEA problems: none there).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parallel, table, write_result  # noqa: E402

ALL_PROBLEMS = ["ACSF1", "ArrowHead", "BasicMotions", "GunPoint", "ItalyPowerDemand", "JapaneseVowels", "OSULeaf",
                "PickupGestureWiimoteZ"]
QUICK_PROBLEMS = ["ItalyPowerDemand", "GunPoint", "BasicMotions", "JapaneseVowels"]
# InceptionTime (ensemble of 5) test accuracy on the UCR 2018 archive, the "accuracy" column of
# results-InceptionTime-128.csv in github.com/hfawaz/InceptionTime (the paper's repository).
PUBLISHED_INCEPTIONTIME = {"ACSF1": 0.920, "ArrowHead": 0.8457, "GunPoint": 1.0, "ItalyPowerDemand": 0.9650,
                           "OSULeaf": 0.9421, "PickupGestureWiimoteZ": 0.760}


def encoder_config(encoder: str, problem: str, seed: int, epochs: int) -> dict[str, Any]:
    """The one config an encoder gets on every problem: the InceptionTime paper's optimizer and batch size
    (Adam 1e-3, batch 64), a cosine decay over a shorter schedule than its 1500 epochs (CPU time)."""
    return {
        "name": f"{problem}-{encoder}", "seed": seed,
        "data": {"name": "ucr", "problem": problem},
        "encoder": {"name": encoder}, "learner": {"name": "classifier"},
        "optimizer": {"name": "adam", "lr": 1e-3}, "schedule": {"name": "cosine"},
        "training": {"epochs": epochs, "batch_size": 64, "threads": 1, "progress": "none"},
        "evaluation": {"protocol": [], "embedding_plots": []},
        "logging": {"plots": False, "report": False}, "diagnostics": {"enabled": False},
    }


def run_deepfeat(encoder: str, problem: str, seed: int, epochs: int) -> tuple[float, float]:
    """(test accuracy, wall seconds of the whole fit) of one deepfeat run."""
    import deepfeat

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run = deepfeat.fit(encoder_config(encoder, problem, seed, epochs), out=Path(tmp) / "run")
        return float(run.results.test["test/acc"]), time.perf_counter() - t0


def load_arrays(problem: str) -> tuple[np.ndarray, ...]:
    """The train/test arrays exactly as deepfeat trains on them."""
    from deepfeat.data.datasets import load_dataset

    b = load_dataset({"name": "ucr", "problem": problem})
    return (b.train.x.numpy().astype(np.float64), b.train.y.numpy(), b.test.x.numpy().astype(np.float64),
            b.test.y.numpy())


def run_baseline(name: str, problem: str, seed: int) -> tuple[float, float]:
    """(test accuracy, wall seconds of fit + predict) of one aeon classifier."""
    from aeon.classification.convolution_based import MiniRocketClassifier, RocketClassifier
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    x, y, xt, yt = load_arrays(problem)
    make = {"rocket": lambda: RocketClassifier(n_kernels=10000, random_state=seed, n_jobs=1),
            "minirocket": lambda: MiniRocketClassifier(random_state=seed, n_jobs=1),
            "1nn_euclidean": lambda: KNeighborsTimeSeriesClassifier(distance="euclidean", n_neighbors=1)}[name]
    t0 = time.perf_counter()
    pred = make().fit(x, y).predict(xt)
    return float(np.mean(pred == yt)), time.perf_counter() - t0


def mean_ranks(acc: dict[str, dict[str, float]], methods: list[str], problems: list[str]) -> dict[str, float]:
    """Mean rank of each method over problems (1 = best; ties share the average rank)."""
    from scipy.stats import rankdata

    ranks = np.array([rankdata([-acc[m][p] for m in methods]) for p in problems])
    return {m: float(ranks[:, i].mean()) for i, m in enumerate(methods)}


def one(method: str, problem: str, seed: int, epochs: int) -> tuple[float, float]:
    """(test accuracy, wall seconds) of one method on one problem with one seed (a parallel task)."""
    if method.startswith("deepfeat-"):
        return run_deepfeat(method.removeprefix("deepfeat-"), problem, seed, epochs)
    return run_baseline(method, problem, seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="all problems, 3 encoders, 3 seeds")
    ap.add_argument("--problems", nargs="*")
    ap.add_argument("--encoders", nargs="*")
    ap.add_argument("--seeds", type=int)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--jobs", type=int, default=1,
                    help="runs at a time, each in its own process with 1 thread (wall times then share the machine)")
    ap.add_argument("--deadline", type=float, default=None,
                    help="seconds: runs not finished by then are dropped; the table covers what finished")
    ap.add_argument("--from-runs", nargs="*", metavar="RUNS_JSON",
                    help="run nothing: summarize the runs recorded in these *_runs.json files (e.g. two partial calls)")
    args = ap.parse_args()
    problems = args.problems or (ALL_PROBLEMS if args.full else QUICK_PROBLEMS)
    encoders = args.encoders or (["inception", "fcn", "resnet1d"] if args.full else ["fcn", "inception"])
    seeds = args.seeds or (3 if args.full else 1)
    epochs = args.epochs or (300 if args.full else 100)
    baselines = ["rocket", "minirocket", "1nn_euclidean"]
    methods = [f"deepfeat-{e}" for e in encoders] + baselines
    name = "timeseries" if args.full else "timeseries_quick"
    # longest first (alternating method order per problem), so parallel runs finish together
    tasks = [(m, p, s, epochs) for i, p in enumerate(problems) for s in range(seeds)
             for m in (methods if i % 2 == 0 else methods[::-1])]
    runs: list[dict[str, Any]] = []
    measured_on: dict[str, Any] = {}

    def done(task: tuple[Any, ...], result: tuple[float, float]) -> None:
        runs.append({"method": task[0], "problem": task[1], "seed": task[2], "acc": result[0], "wall_s": result[1]})
        print(f"{task[1]:24s} {task[0]:22s} seed {task[2]}  acc {result[0]:.4f}  ({result[1]:.1f} s)", flush=True)
        write_result(f"{name}_runs", {"epochs": epochs, "jobs": args.jobs, "runs": runs})

    if args.from_runs:
        import json

        files = [json.loads(Path(f).read_text()) for f in args.from_runs]
        epochs = files[0]["epochs"]
        seen: set[tuple[str, str, int]] = set()
        for f in files:  # a (method, problem, seed) recorded twice counts once: the first file's
            for r in f["runs"]:
                key = (r["method"], r["problem"], r["seed"])
                if key not in seen and r["method"] in methods and r["problem"] in problems and r["seed"] < seeds:
                    seen.add(key)
                    runs.append(r)
        measured_on = {"machine": files[0]["machine"]}  # the summary names where the runs ran, not this machine
        print(f"{len(runs)} runs from {', '.join(args.from_runs)} (measured on {files[0]['machine']})")
    else:
        parallel(one, tasks, args.jobs, args.deadline, done)
    acc: dict[str, dict[str, float]] = {m: {} for m in methods}
    wall: dict[str, dict[str, float]] = {m: {} for m in methods}
    for m in methods:
        for p in problems:
            cell = [r for r in runs if r["method"] == m and r["problem"] == p]
            if len(cell) == seeds:  # a problem counts only with every seed of every method
                acc[m][p] = float(np.mean([r["acc"] for r in cell]))
                wall[m][p] = float(np.mean([r["wall_s"] for r in cell]))
    complete = [p for p in problems if all(p in acc[m] for m in methods)]
    if len(complete) < len(problems):
        print(f"incomplete problems left out of means and ranks: {sorted(set(problems) - set(complete))}")
    ranks = mean_ranks(acc, methods, complete) if complete else {}
    std = {m: {p: float(np.std([r["acc"] for r in runs if r["method"] == m and r["problem"] == p]))
               for p in acc[m]} for m in methods}
    rows = [{"problem": p, **{m: acc[m].get(p, "") for m in methods},
             "InceptionTime (published)": PUBLISHED_INCEPTIONTIME.get(p, "")} for p in problems]
    rows.append({"problem": "mean accuracy", **{m: float(np.mean([acc[m][p] for p in complete])) for m in methods
                                                if complete}})
    rows.append({"problem": "mean rank", **ranks})
    rows.append({"problem": "wall s (sum, per seed)", **{m: float(sum(wall[m].values())) for m in methods}})
    print(table(rows, ["problem", *methods, "InceptionTime (published)"]))
    out = write_result(name, {"mode": "full" if args.full else "quick", "problems": problems, "encoders": encoders,
                              "seeds": seeds, "epochs": epochs, "jobs": args.jobs, "complete_problems": complete,
                              "from_runs": args.from_runs or None, **measured_on,
                              "accuracy": acc, "accuracy_std": std, "wall_s": wall, "mean_rank": ranks})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
