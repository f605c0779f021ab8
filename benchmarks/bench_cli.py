"""Start-up time of the command: ``deepfeat --help`` / ``list`` / ``list encoders`` against ``import torch``.

Each command runs as a fresh process, side by side with ``python -c "import torch"`` in the same rounds
(interleaved, so load on the shared machine hits both alike); the median of ``--repeats`` rounds is
reported with its ratio to the torch import. Targets (issue 16): ``--help`` and ``list`` within 1.5 s.

    python benchmarks/bench_cli.py            # writes benchmarks/results/cli.json and prints the table
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import RESULTS, machine, table

TARGET_S = 1.5


def deepfeat_command() -> list[str]:
    """The installed ``deepfeat`` script next to this Python (what a user runs), else ``python -m deepfeat.cli``."""
    script = Path(sys.executable).parent / "deepfeat"
    return [str(script)] if script.exists() else [sys.executable, "-m", "deepfeat.cli"]


def commands() -> dict[str, tuple[list[str], float | None]]:
    """Label -> (argv, target seconds or None)."""
    cli = deepfeat_command()
    return {
        'python -c "import torch"': ([sys.executable, "-c", "import torch"], None),
        "deepfeat --help": ([*cli, "--help"], TARGET_S),
        "deepfeat list": ([*cli, "list"], TARGET_S),
        "deepfeat list encoders": ([*cli, "list", "encoders"], None),
        "deepfeat --version": ([*cli, "--version"], None),
    }


def wall_time(argv: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="rounds; the median is reported (default 5)")
    parser.add_argument("--out", default=str(RESULTS / "cli.json"), help="result file (default benchmarks/results/cli.json)")
    args = parser.parse_args()
    cmds = commands()
    for argv, _ in cmds.values():  # one untimed round: the page cache holds the files for every timed one
        wall_time(argv)
    times: dict[str, list[float]] = {label: [] for label in cmds}
    for _ in range(args.repeats):
        for label, (argv, _) in cmds.items():
            times[label].append(wall_time(argv))
    torch_s = statistics.median(times['python -c "import torch"'])
    rows = []
    for label, (_, target) in cmds.items():
        median = statistics.median(times[label])
        verdict = "" if target is None else ("met" if median <= target else "not met")
        rows.append({"command": label, "median s": round(median, 3), "ratio to import torch": round(median / torch_s, 2),
                     "target": f"<= {target} s: {verdict}" if target else "", "runs s": [round(t, 3) for t in times[label]]})
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine(), "repeats": args.repeats, "load_average": os.getloadavg(),
                                "pythonpath": os.environ.get("PYTHONPATH", ""), "rows": rows}, indent=2))
    print(table(rows, ["command", "median s", "ratio to import torch", "target"]))
    print(f"load average {os.getloadavg()[0]:.2f}; result: {path}")


if __name__ == "__main__":
    main()
