"""Anomaly detection on windows of one long series: which encoder/decoder pairs work, against IsolationForest.

The UCR anomaly series KDD-TSAD_135 (aeon; or --series ecg-diff-count-3): train on windows of its normal training
part, score its test points with ``deepfeat.api.score_series`` (the run's own windows, mapped back to points by mean
and by max over covering windows), point ROC-AUC and average precision. Every variant is examples/configs/kdd135_windows_ae.yaml with only
the encoder (and learner.decoder) swapped; IsolationForest sees the same raw windows.

    python benchmarks/bench_windows.py                       # quick: 1 seed, mlp + tcn + fcn
    python benchmarks/bench_windows.py --full                # 3 seeds
    python benchmarks/bench_windows.py --variants mlp fcn --seeds 2 --name windows_fcn
    python benchmarks/bench_windows.py --series ecg-diff-count-3 --variants mlp --name windows_ecg
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, table, write_result

CONFIG = REPO / "examples" / "configs" / "kdd135_windows_ae.yaml"
# variant -> (encoder spec, learner.decoder): "auto" is the encoder's registered mirror
VARIANTS: dict[str, tuple[dict[str, Any], str]] = {
    "mlp": ({"name": "mlp", "hidden": [128]}, "auto"),
    "tcn": ({"name": "tcn"}, "auto"),
    "tcn+conv1d": ({"name": "tcn"}, "conv1d"),
    "fcn": ({"name": "fcn"}, "auto"),
    "fcn+conv1d": ({"name": "fcn"}, "conv1d"),
    "resnet1d": ({"name": "resnet1d"}, "auto"),
    "inception": ({"name": "inception", "depth": 3}, "auto"),
}


def fit_variant(variant: str, seed: int, series: str, out: Path) -> tuple[Path, float, str]:
    import deepfeat

    config = yaml.safe_load(CONFIG.read_text())
    encoder, decoder = VARIANTS[variant]
    config.update(seed=seed, encoder=encoder, name=f"{series}-{variant}")
    config["learner"]["decoder"] = decoder
    config["data"]["series"] = series
    config["training"]["progress"] = "none"
    config["logging"] = {"plots": False, "report": False}
    start = time.perf_counter()
    run = deepfeat.fit(config, out=out)
    return run.dir, time.perf_counter() - start, type(run.learner.decoder).__name__


def point_rows(name: str, decoder: str, seed: int, score_windows: Any, windows: dict[str, int], series: np.ndarray,
               labels: np.ndarray, seconds: float) -> list[dict[str, Any]]:
    from deepfeat.run.series_scores import score_series

    rows = []
    for reduce in ("mean", "max"):
        m = score_series(score_windows, windows, series, labels, reduce)["metrics"]
        rows.append({"method": name, "decoder": decoder, "seed": seed, "reduce": reduce, "roc_auc": m["roc_auc"],
                     "ap": m["average_precision"], "fit_s": seconds})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="3 seeds")
    parser.add_argument("--variants", nargs="+", default=["mlp", "tcn", "fcn"], choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--series", default="KDD-TSAD_135", help="an anomaly series of series_windows")
    parser.add_argument("--name", default=None, help="result file name (default windows or windows_quick)")
    args = parser.parse_args()
    seeds = args.seeds or (3 if args.full else 1)
    from sklearn.ensemble import IsolationForest

    from deepfeat.api import anomaly_score, load
    from deepfeat.data.windows import AEON_SERIES, sliding_windows

    train, _ = AEON_SERIES[args.series]("train")
    series, labels = AEON_SERIES[args.series]("test")
    cfg = yaml.safe_load(CONFIG.read_text())["data"]
    windows = {"length": cfg["length"], "stride": cfg["stride"]}
    train_w, _ = sliding_windows(train, windows["length"], windows["stride"])
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            start = time.perf_counter()
            forest = IsolationForest(n_estimators=200, random_state=seed).fit(train_w.reshape(len(train_w), -1))
            rows += point_rows("IsolationForest", "-", seed, lambda w, f=forest: -f.score_samples(w.reshape(len(w), -1)),
                               windows, series, labels, time.perf_counter() - start)
            for variant in args.variants:
                run_dir, seconds, decoder = fit_variant(variant, seed, args.series, Path(tmp) / f"{variant}-{seed}")
                run = load(run_dir)
                rows += point_rows(variant, decoder, seed, lambda w, r=run: anomaly_score(r, w), windows, series, labels,
                                   seconds)
                print(f"seed {seed} {variant} ({decoder}): {rows[-2]['roc_auc']:.3f} / {rows[-2]['ap']:.3f} (mean), "
                      f"{seconds:.0f} s", flush=True)
    summary = summarize(rows)
    print(table(summary, ["method", "decoder", "reduce", "roc_auc", "roc_auc_min", "ap", "ap_min", "fit_s"]))
    name = args.name or ("windows" if args.full else "windows_quick")
    print(write_result(name, {"series": args.series, "windows": windows, "seeds": seeds, "rows": rows,
                              "summary": summary}))


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean (and worst) over seeds per method and reduce."""
    keys = sorted({(r["method"], r["decoder"], r["reduce"]) for r in rows}, key=lambda k: (k[0] != "mlp", k))
    out = []
    for method, decoder, reduce in keys:
        sel = [r for r in rows if (r["method"], r["decoder"], r["reduce"]) == (method, decoder, reduce)]
        out.append({"method": method, "decoder": decoder, "reduce": reduce,
                    "roc_auc": float(np.mean([r["roc_auc"] for r in sel])),
                    "roc_auc_min": float(np.min([r["roc_auc"] for r in sel])),
                    "ap": float(np.mean([r["ap"] for r in sel])), "ap_min": float(np.min([r["ap"] for r in sel])),
                    "fit_s": float(np.mean([r["fit_s"] for r in sel]))})
    return out


if __name__ == "__main__":
    main()
