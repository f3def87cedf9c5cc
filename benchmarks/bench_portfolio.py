"""Wall time and peak memory of ``bt run topk-strategy --universe dow30``: cold, then with every forecast cached.

Run: ``python -m benchmarks.bench_portfolio`` (from the repo root, project installed). The cold run
computes 30 walk-forwards of the default forecaster (the LSTM: long) and fills a fresh forecast cache;
the cached run then reads every ticker's forecasts from it, so it times the portfolio backtest (the rule
and its four comparisons over five years) and the report. Options::

    --model ridge          another forecaster (the same for both runs)
    --cache-dir DIR        use (and keep) this forecast cache instead of a fresh, temporary one
    --only cached          skip the cold run (with --cache-dir that already holds the forecasts)
    --workers N            pass --workers N to the cold run (its forecasts on a Dask LocalCluster)

Each command runs in a fresh process, one after the other.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BT = [sys.executable, "-c", "import sys; from backtests.cli import main; sys.argv[0] = 'bt'; main()"]


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak resident memory (GiB, this process's children) and stdout of one ``bt`` command."""
    with tempfile.TemporaryFile("w+") as err, tempfile.TemporaryFile("w+") as out:
        began = time.perf_counter()
        child = subprocess.Popen(BT + args, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - began
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"bt {' '.join(args)} failed:\n{err.read()}")
        out.seek(0)
        return wall, usage.ru_maxrss / 2**20, out.read()


def options(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of this script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="forecaster (default: the project's default, the LSTM)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="forecast cache to use and keep")
    parser.add_argument("--only", choices=["cached"], default=None, help="skip the cold run")
    parser.add_argument("--workers", type=int, default=None, help="Dask workers for the cold run's forecasts")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Time the runs and print one line each."""
    opts = options(argv)
    work = Path(tempfile.mkdtemp(prefix="bt-bench-portfolio-"))
    env = {**os.environ, "BT_CACHE_DIR": str(opts.cache_dir or work / "cache")}
    base = ["run", "topk-strategy", "--universe", "dow30", *(["--model", opts.model] if opts.model else [])]
    rows = []
    try:
        if opts.only != "cached":
            workers = ["--workers", str(opts.workers)] if opts.workers else []
            wall, mem, _ = timed([*base, *workers, "--out", str(work / "cold")], env)
            rows.append(("cold (every forecast computed)", wall, mem))
        wall, mem, out = timed([*base, "--out", str(work / "cached")], env)
        rows.append(("cached (every forecast from the cache)", wall, mem))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    label = f"bt run topk-strategy --universe dow30{' --model ' + opts.model if opts.model else ''}"
    print(label)
    print(f"{'run':<42} {'wall s':>8} {'peak GiB':>9}")
    for name, wall, mem in rows:
        print(f"{name:<42} {wall:>8.1f} {mem:>9.2f}")
    print(next((line for line in out.splitlines() if line.startswith("tickers:")), ""))
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
