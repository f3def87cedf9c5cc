"""Wall time and peak memory of the default ``bt run``: cold, with the forecast cache, and ``bt --help``.

Run: ``python -m benchmarks.bench_run`` (from the repo root, project installed).
Each command runs in a fresh process with its own empty cache folder, one
after the other, so the figures are comparable within one run of this script.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BT = [sys.executable, "-c", "import sys; from backtests.cli import main; sys.argv[0] = 'bt'; main()"]


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GiB) of one child process."""
    with tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        child = subprocess.Popen(BT + args, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            raise SystemExit(f"bt {' '.join(args)} failed:\n{err.read()}")
    return wall, usage.ru_maxrss / 2**20


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bt-bench-"))
    env = {**os.environ, "BT_CACHE_DIR": str(work / "cache")}
    try:
        help_wall, _ = timed(["--help"], env)
        cold_wall, cold_mem = timed(["run", "lstm-strategy", "AAPL", "--out", str(work / "cold")], env)
        warm_wall, warm_mem = timed(["run", "lstm-strategy", "AAPL", "--out", str(work / "warm")], env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'command':<46} {'wall s':>8}")
    print(f"{'bt --help':<46} {help_wall:>8.2f}")
    print(f"{'bt run lstm-strategy AAPL (cold, no cache)':<46} {cold_wall:>8.1f}")
    print(f"{'bt run lstm-strategy AAPL (forecast cache hit)':<46} {warm_wall:>8.1f}")
    print(f"peak resident memory: cold {cold_mem:.2f} GiB, cached {warm_mem:.2f} GiB")
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
