"""Shared benchmark plumbing: the offline data folder, machine description, JSON results, tables."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

import torch

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(os.environ.get("DEEPFEAT_BENCH_RESULTS", REPO / "benchmarks" / "results"))  # elsewhere: e.g. $OUT
os.environ.setdefault("DEEPFEAT_DATA", str((REPO.parent / "shared" / "data").resolve()))


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    found = {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
             "date": time.strftime("%Y-%m-%d"), "cuda": torch.cuda.is_available()}
    if found["cuda"]:
        found["gpu"] = torch.cuda.get_device_name(0)
    return found


def parallel(fn: Callable[..., Any], tasks: list[tuple[Any, ...]], jobs: int, deadline_s: float | None = None,
             done: Callable[[tuple[Any, ...], Any], None] | None = None) -> dict[tuple[Any, ...], Any]:
    """``{task: fn(*task)}``, ``jobs`` processes at a time (``spawn``: safe with CUDA), calling ``done(task,
    result)`` as each finishes (for partial result files). Tasks still waiting at ``deadline_s`` seconds are
    dropped (with a message) rather than lost with the rest; ``jobs=1`` runs in this process."""
    import concurrent.futures as cf
    import multiprocessing as mp
    import sys

    start, results = time.perf_counter(), {}
    if jobs <= 1:
        for task in tasks:
            if deadline_s is not None and time.perf_counter() - start > deadline_s:
                print(f"deadline: {len(tasks) - len(results)} tasks not run", file=sys.stderr)
                break
            results[task] = fn(*task)
            if done:
                done(task, results[task])
        return results
    with cf.ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(fn, *task): task for task in tasks}
        remaining = None if deadline_s is None else max(1.0, deadline_s - (time.perf_counter() - start))
        try:
            for future in cf.as_completed(futures, timeout=remaining):
                task = futures[future]
                try:
                    results[task] = future.result()
                except Exception as exc:  # one failed run must not lose the others
                    print(f"task {task} failed: {exc!r}", file=sys.stderr, flush=True)
                    continue
                if done:
                    done(task, results[task])
        except cf.TimeoutError:
            print(f"deadline: {len(tasks) - len(results)} tasks dropped", file=sys.stderr, flush=True)
            for future in futures:
                future.cancel()
            for proc in list(getattr(pool, "_processes", {}).values()):  # running ones are stopped, not awaited
                proc.terminate()
    return results


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **result}, indent=2))
    return path


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A markdown table of ``rows`` (floats to 4 significant digits)."""
    def fmt(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
