"""Sweep scaling: 8 tickers of dow30 with the default configuration, forecast cache empty each time.

Run: ``python -m benchmarks.bench_sweep`` (from the repo root, project installed; about 15 minutes on
2 cores). In one run of this script, one after the other, each in a fresh process and a fresh cache:

1. the 8 jobs as 8 separate ``bt run`` processes (the shell loop a sweep replaces), summed;
2. ``bt sweep --scheduler sync``: the jobs one after another in one warm process;
3. ``bt sweep --workers 1`` and 4. ``--workers 2``: a local Dask cluster;
5. the same sweep again into a new folder with every forecast cached (``--workers 2``), with and without
   ``--lean``.

Peak memory is sampled from every process of a run (the client and each worker) twice a second.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

BT = [sys.executable, "-c", "import sys; from backtests.cli import main; sys.argv[0] = 'bt'; main()"]


def _sample(root: int, peaks: dict[int, float], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            procs = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for proc in procs:
            try:
                peaks[proc.pid] = max(peaks.get(proc.pid, 0.0), proc.memory_info().rss / 2**30)
            except psutil.NoSuchProcess:
                pass
        stop.wait(0.5)


def timed(args: list[str], env: dict[str, str]) -> tuple[float, dict[int, float]]:
    """Wall seconds of one ``bt`` process and the peak resident memory (GiB) of it and each of its children."""
    peaks: dict[int, float] = {}
    stop = threading.Event()
    with tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        child = subprocess.Popen(BT + args, env=env, stdout=subprocess.DEVNULL, stderr=err)
        sampler = threading.Thread(target=_sample, args=(child.pid, peaks, stop), daemon=True)
        sampler.start()
        code = child.wait()
        wall = time.perf_counter() - began
        stop.set()
        if code != 0:
            err.seek(0)
            raise SystemExit(f"bt {' '.join(args)} failed:\n{err.read()}")
    return wall, peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=8, help="how many dow30 tickers (default 8)")
    args = parser.parse_args()
    from backtests.data.universe import universe

    tickers = list(universe("dow30").tickers[: args.tickers])
    work = Path(tempfile.mkdtemp(prefix="bt-bench-sweep-"))
    rows: list[tuple[str, float, str]] = []

    def env(name: str) -> dict[str, str]:
        return {**os.environ, "BT_CACHE_DIR": str(work / f"cache-{name}")}

    try:
        separate = sum(timed(["run", "lstm-strategy", t, "--out", str(work / f"run-{t}")], env(f"run-{t}"))[0]
                       for t in tickers)  # fmt: skip
        rows.append((f"{len(tickers)} separate `bt run`s, summed", separate, ""))
        sweep = ["sweep", "lstm-strategy", "--tickers", ",".join(tickers)]
        for label, extra in (("sync", ["--scheduler", "sync"]), ("w1", ["--workers", "1"]), ("w2", ["--workers", "2"])):
            wall, peaks = timed([*sweep, *extra, "--out", str(work / f"sweep-{label}")], env(label))
            rows.append((f"bt sweep {' '.join(extra)} (cold)", wall, _memory(peaks)))
        for lean in ([], ["--lean"]):
            wall, peaks = timed([*sweep, "--workers", "2", *lean, "--out", str(work / f"warm{len(lean)}")], env("w2"))
            rows.append((f"bt sweep --workers 2 {' '.join(lean)} (all forecasts cached)", wall, _memory(peaks)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _print(rows, len(tickers))


def _memory(peaks: dict[int, float]) -> str:
    ordered = sorted(peaks.values(), reverse=True)
    return ", ".join(f"{v:.2f}" for v in ordered[:4])


def _print(rows: list[tuple[str, float, str]], jobs: int) -> None:
    print(f"{'run':<58} {'wall s':>8}  peak GiB (largest processes)")
    for label, wall, memory in rows:
        print(f"{label:<58} {wall:>8.1f}  {memory}")
    by = {label: wall for label, wall, _ in rows}
    sync = next(v for k, v in by.items() if "sync" in k)
    w1 = next(v for k, v in by.items() if "--workers 1" in k)
    w2 = next(v for k, v in by.items() if "--workers 2 (cold)" in k)
    print(f"2 workers vs 1 worker: {w1 / w2:.2f}x faster; 1 worker vs in-process one after another: "
          f"{w1 / sync - 1:+.1%}; {jobs} jobs, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
