"""Wall time and peak memory of ``bt run``: ``bt --help``, the default run cold and cached, and ``--seeds 4`` cold.

Run: ``python -m benchmarks.bench_run`` (from the repo root, project installed); ``--predictions``
prints only the last line below (what the LSTM's predictions cost); ``--against REV [REPEAT]`` times
only the default run, cold, side by side with commit REV's (see ``against``); ``--seeds-ratio [REPEAT]``
only ``--seeds 4`` against ``--seeds 1``, cold, in alternating pairs (see ``seeds_ratio``);
``--cached-against REV [REPEAT]`` only the cached run, side by side with commit REV's (see ``cached_against``).
Each command runs in a fresh process, one after the other, so the figures are comparable
within one run of this script (not across runs: other work on the machine moves them; the
load average before and after is printed). The default run and ``--seeds 4`` each start
from an empty cache of their own; the cached run then changes a strategy option
(``--threshold 0.001``), so it reads the forecasts from the cache and backtests and
draws its report anew. It and ``bt --help`` run ``SHORT_RUNS`` times; their rows are the medians.
``--seeds 4`` runs its members side by side on a local cluster
(one worker per core); the default run, a single warm-started member, runs in the process.
Peak memory is the ``bt`` process's own (not the cluster's worker processes'). Then each
member's training time, from the folds tables: the single member in the process, and one of
the four on a worker (the figures an estimate for a bigger cluster starts from). Last, in this
process, what the LSTM's predictions cost a default run (``prediction_cost``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

SHORT_RUNS = 5  # ``bt --help`` and the cached run are short and noisy: their rows are the median of this many
BT = [sys.executable, "-c", "import sys; from backtests.cli import main; sys.argv[0] = 'bt'; main()"]
RUN = ["run", "lstm-strategy", "AAPL"]


def timed(args: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (this child and the processes it waited for) and peak resident memory (GiB)."""
    with tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        child = subprocess.Popen(BT + args, env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            raise SystemExit(f"bt {' '.join(args)} failed:\n{err.read()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 2**20


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _pieces(single: Path, ensemble: Path) -> str:
    """Training seconds of one member (its first fold, its later folds), in the process and on a worker."""
    import pandas as pd

    lines = []
    for label, path, members in (("--seeds 1, in the process", single, 1), ("--seeds 4, per member on a worker",
                                                                            ensemble, 4)):  # fmt: skip
        seconds = pd.read_csv(path)["seconds"] / members  # a fold's row sums its members' fits
        lines.append(f"{label}: first fold {seconds.iloc[0]:.2f} s, later folds {seconds.iloc[1:].mean():.3f} s "
                     f"each, the member's {len(seconds)} folds {seconds.sum():.1f} s")  # fmt: skip
    return "\n".join(lines)


def prediction_cost(folds: int = 60, days: int = 21) -> str:
    """What a default run's LSTM predictions cost (``folds`` x ``days`` windows): ``predict`` as it is (each
    fold's windows in forward passes of one fixed shape, see forecasting/lstm.py) against one window a pass
    (how it predicted before: a forecast must not depend on the windows predicted with it). Both through
    the model's traced (``tf.function``) forward pass, after a warm-up; the best of five."""
    import numpy as np

    from backtests.data import load_prices
    from forecasting import LSTMForecaster
    from forecasting.tf_runtime import tensorflow_module

    close = load_prices("AAPL").frame["close"].to_numpy()
    windows = np.lib.stride_tricks.sliding_window_view(close[:900], 60)
    model = LSTMForecaster(epochs=1, seed=0).fit(windows[:700], close[60:760])
    fold = windows[700 : 700 + days]
    scaled = (np.diff(np.log(fold), axis=1) / model.scale_)[..., None].astype(np.float32)  # the model's input
    forward = tensorflow_module().function(lambda x: model.model_(x, training=False))

    def one_by_one() -> list[object]:
        return [forward(scaled[i : i + 1]).numpy() for i in range(days)]

    model.predict(fold), one_by_one()  # traced and warm
    fixed, single = _best_of(5, lambda: model.predict(fold)), _best_of(5, one_by_one)
    return (f"LSTM predictions, {days} windows a fold: fixed-shape passes {fixed * 1000:.1f} ms, one window a "
            f"pass {single * 1000:.1f} ms; over {folds} folds {fixed * folds:.2f} s against {single * folds:.2f} s")


@contextlib.contextmanager
def _beside(rev: str) -> Iterator[tuple[dict[str, Path], Path]]:
    """This tree and a git worktree of commit ``rev`` (its own packages imported first, from its folder),
    labelled, and a scratch folder; both removed afterwards."""
    root = Path(__file__).resolve().parents[1]
    work = Path(tempfile.mkdtemp(prefix="bt-bench-against-"))
    trees = {"this tree": root, rev: work / "tree"}
    try:
        subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", "-q", str(trees[rev]), rev],
                       check=True)  # fmt: skip
        yield trees, work
    finally:
        subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(trees[rev])], check=False,
                       capture_output=True)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)


def _side_by_side(walls: dict[str, list[float]], what: str) -> str:
    """Each tree's median wall, their ratio, and every wall."""
    import statistics

    this, other = (statistics.median(values) for values in walls.values())
    runs = "; ".join(f"{label}: " + ", ".join(f"{w:.2f}" for w in values) for label, values in walls.items())
    return f"{what}: this tree {this:.2f} s, {list(walls)[1]} {other:.2f} s, ratio {this / other:.2f} ({runs} s)"


def against(rev: str, repeat: int = 2) -> str:
    """The default run, cold, of this tree and of commit ``rev`` side by side (``_beside``), the two
    alternating ``repeat`` times (which goes first alternates too), each run with an empty cache of its
    own. The median of each and their ratio."""
    with _beside(rev) as (trees, work):
        walls: dict[str, list[float]] = {label: [] for label in trees}
        for turn in range(repeat):
            for side, label in enumerate(list(trees) if turn % 2 == 0 else list(trees)[::-1]):
                run = work / f"run-{turn}-{side}"
                env = {**os.environ, "BT_CACHE_DIR": str(run / "cache")}
                walls[label].append(timed([*RUN, "--out", str(run / "out")], env, trees[label])[0])
    return _side_by_side(walls, f"bt run lstm-strategy AAPL, cold, median of {repeat}")


def cached_against(rev: str, repeat: int = SHORT_RUNS) -> str:
    """The cached run (``main``'s row) of this tree and of commit ``rev`` side by side (``_beside``): each
    tree fills a cache of its own with one cold default run, then their cached runs alternate ``repeat``
    times (which goes first alternates too). The median of each and their ratio."""
    with _beside(rev) as (trees, work):
        envs = {label: {**os.environ, "BT_CACHE_DIR": str(work / f"cache-{side}")}
                for side, label in enumerate(trees)}  # fmt: skip
        for side, label in enumerate(trees):
            timed([*RUN, "--out", str(work / f"cold-{side}")], envs[label], trees[label])
        walls: dict[str, list[float]] = {label: [] for label in trees}
        for turn in range(repeat):
            for label in list(trees) if turn % 2 == 0 else list(trees)[::-1]:
                args = [*RUN, "--threshold", "0.001", "--out", str(work / "warm"), "--overwrite"]
                walls[label].append(timed(args, envs[label], trees[label])[0])
    return _side_by_side(walls, f"bt run lstm-strategy AAPL --threshold 0.001, cached, median of {repeat}")


def seeds_ratio(repeat: int = 3) -> str:
    """``--seeds 4`` against ``--seeds 1``, both cold (empty caches), alternating ``repeat`` times: each
    pair's ratio and the median, since one pair moves by a tenth on this machine."""
    import statistics

    work = Path(tempfile.mkdtemp(prefix="bt-bench-seeds-"))
    pairs = []
    try:
        for turn in range(repeat):
            walls = {}
            for seeds in ("1", "4") if turn % 2 == 0 else ("4", "1"):
                run = work / f"run-{turn}-{seeds}"
                env = {**os.environ, "BT_CACHE_DIR": str(run / "cache")}
                walls[seeds] = timed([*RUN, "--seeds", seeds, "--out", str(run / "out")], env)[0]
            pairs.append((walls["1"], walls["4"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratios = [four / one for one, four in pairs]
    listed = "; ".join(f"{one:.1f} s and {four:.1f} s: {four / one:.2f}x" for one, four in pairs)
    return f"--seeds 4 cold / --seeds 1 cold, median of {repeat} pairs: {statistics.median(ratios):.2f}x ({listed})"


def _best_of(repeat: int, fn: Callable[[], object]) -> float:
    """The fastest of ``repeat`` calls of ``fn``, in seconds."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def _median_run(args: list[str], env: dict[str, str], runs: int) -> tuple[float, float, float, list[float]]:
    """``timed`` ``runs`` times: the median wall, with its CPU and memory, and all the walls."""
    results = sorted(timed(args, env) for _ in range(runs))
    wall, cpu, mem = results[len(results) // 2]
    return wall, cpu, mem, [r[0] for r in results]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bt-bench-"))
    env = {**os.environ, "BT_CACHE_DIR": str(work / "cache")}
    seeds_env = {**os.environ, "BT_CACHE_DIR": str(work / "cache-seeds")}
    cached = [*RUN, "--threshold", "0.001", "--out", str(work / "warm"), "--overwrite"]
    before = _load()
    try:
        *help_row, _ = _median_run(["--help"], env, SHORT_RUNS)
        results = [(f"bt --help (median of {SHORT_RUNS})", *help_row),
                   ("bt run lstm-strategy AAPL (cold, no cache)", *timed([*RUN, "--out", str(work / "cold")], env))]
        *row, walls = _median_run(cached, env, SHORT_RUNS)
        results.append((f"... --threshold 0.001 (cache hit, median of {SHORT_RUNS})", *row))
        results.append(("bt run lstm-strategy AAPL --seeds 4 (cold)",
                        *timed([*RUN, "--seeds", "4", "--out", str(work / "seeds")], seeds_env)))
        pieces = _pieces(work / "cold" / "folds.csv", work / "seeds" / "folds.csv")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'command':<50} {'wall s':>8} {'CPU s':>8} {'peak GiB':>9}")
    for name, wall, cpu, mem in results:
        print(f"{name:<50} {wall:>8.2f} {cpu:>8.1f} {mem:>9.2f}")
    print(f"the cached runs' walls: {', '.join(f'{w:.2f}' for w in walls)} s")
    print(f"--seeds 4 cold / --seeds 1 cold: {results[3][1] / results[1][1]:.2f}x wall")
    print(pieces)
    print(prediction_cost())
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average (1, 5, 15 min) before {before}, "
          f"after {_load()}")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:] == ["--predictions"]:  # that line alone
        print(prediction_cost())
    elif sys.argv[1:2] == ["--seeds-ratio"]:  # python -m benchmarks.bench_run --seeds-ratio [REPEAT]
        before = _load()
        print(seeds_ratio(int(sys.argv[2]) if len(sys.argv) > 2 else 3))
        print(f"load average (1, 5, 15 min) before {before}, after {_load()}")
    elif sys.argv[1:2] == ["--cached-against"]:  # python -m benchmarks.bench_run --cached-against REV [REPEAT]
        before = _load()
        print(cached_against(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else SHORT_RUNS))
        print(f"load average (1, 5, 15 min) before {before}, after {_load()}")
    elif sys.argv[1:2] == ["--against"]:  # python -m benchmarks.bench_run --against REV [REPEAT]
        before = _load()
        print(against(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 2))
        print(f"load average (1, 5, 15 min) before {before}, after {_load()}")
    else:
        main()
