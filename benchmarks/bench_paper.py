"""A one-year paper replay with the default model against ``bt run`` over the same year, both cold.

Run: ``python -m benchmarks.bench_paper`` (from the repo root, project installed).
Each command runs in a fresh process with its own empty cache and ledger folders, one after
the other; the replay's time includes ``bt paper start``. The issue's target: the replay
takes at most 1.5 times the ``bt run``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_run import timed

YEAR = ["--start", "2025-08-14", "--end", "2026-08-14"]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bt-bench-paper-"))
    env = {**os.environ, "BT_CACHE_DIR": str(work / "cache"), "BT_PAPER_DIR": str(work / "paper")}
    try:
        run_wall, _, run_mem = timed(["run", "lstm-strategy", "AAPL", "--source", "bundled", *YEAR, "--no-cache",
                                   "--out", str(work / "run")], env)  # fmt: skip
        start_wall, _, _ = timed(["paper", "start", "bench", "--ticker", "AAPL", "--source", "bundled"], env)
        replay_wall, _, replay_mem = timed(["paper", "replay", "bench", *YEAR], env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    paper_wall = start_wall + replay_wall
    print(f"{'command (AAPL, 2025-08-14 to 2026-08-14, cold)':<52} {'wall s':>8} {'peak GiB':>9}")
    print(f"{'bt run lstm-strategy AAPL':<52} {run_wall:>8.1f} {run_mem:>9.2f}")
    print(f"{'bt paper start + bt paper replay':<52} {paper_wall:>8.1f} {replay_mem:>9.2f}")
    print(f"replay / run: {paper_wall / run_wall:.2f} (target <= 1.5)")
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
