"""Length-bucketed batching (issue 19): the same text run with ``training.length_buckets`` 0 (off) and 20, side by side.

Each config is fitted ``--repeats`` times per setting, alternating the order (load drift favours neither side), in
fresh run folders; reported: training seconds (the fit's own clock, evaluation excluded), test accuracy, and the
ratio off / on. Token batches are right-padded; the text encoders compute only up to a batch's longest text
(``text_tcn`` and MiniLM trim the padding columns, ``text_rnn`` packs), so batches of similar length cost less.

    python benchmarks/bench_buckets.py                       # sms_spam_gru.yaml, 2 repeats
    python benchmarks/bench_buckets.py --config examples/configs/sms_spam_minilm.yaml --set training.max_steps=60
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from _common import REPO, table, write_result


def fit(config: str, buckets: int, overrides: list[str]) -> tuple[float, float]:
    import deepfeat

    with tempfile.TemporaryDirectory() as tmp:
        run = deepfeat.fit(config, out=Path(tmp) / "run", overrides=[
            f"training.length_buckets={buckets}", "training.progress=none", "logging.report=false",
            "logging.plots=false", "evaluation.protocol=[]", *overrides])
        return float(run.results["fit"]["time_s"]), float(run.results["test"]["test/acc"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(REPO / "examples" / "configs" / "sms_spam_gru.yaml"))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    args = ap.parse_args()
    found: dict[int, list[tuple[float, float]]] = {0: [], 20: []}
    for r in range(args.repeats):
        for buckets in ((0, 20) if r % 2 == 0 else (20, 0)):
            found[buckets].append(fit(args.config, buckets, args.set))
            print(f"repeat {r} length_buckets={buckets}: train {found[buckets][-1][0]:.1f} s, "
                  f"test acc {found[buckets][-1][1]:.4f}", flush=True)
    rows = [{"length_buckets": b, "train s (mean)": float(np.mean([t for t, _ in v])),
             "test acc (mean)": float(np.mean([a for _, a in v]))} for b, v in found.items()]
    ratio = rows[0]["train s (mean)"] / rows[1]["train s (mean)"]
    print(table(rows, ["length_buckets", "train s (mean)", "test acc (mean)"]))
    print(f"speed-up from bucketing: {ratio:.2f}x")
    name = f"buckets_{Path(args.config).stem}"
    print(f"written: {write_result(name, {'config': args.config, 'overrides': args.set, 'rows': rows, 'speedup': ratio, 'runs': {str(k): v for k, v in found.items()}})}")


if __name__ == "__main__":
    main()
