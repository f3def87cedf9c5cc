"""A run's independent pieces run side by side and give the sequential run's bytes.

Members of an ensemble, folds without warm start and the baselines run as tasks: in this process,
on a real loopback ``LocalCluster`` (one and two workers), or ``sync``; the forecasts must be
byte-identical to ``walk_forward``'s every time. The report's tearsheet is drawn in another
process, once per figure, and equals the one ``bt report`` rebuilds from the saved files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.data import load_prices
from backtests.parallel import DaskRunner, ExecutorSession
from forecasting import ForecastConfig, Forecaster, walk_forward
from forecasting.parallel import (
    InProcess,
    TaskRunner,
    WalkForwardPlan,
    chunks_per_member,
    parallel_walk_forward,
    run_plans,
)

from .conftest import TINY_CLI, TINY_GEOMETRY, TINY_LSTM, bt

TINY_WF = ["--start", "2026-06-01", "--train-days", "80", "--lookback", "10", "--epochs", "2", "--batch-size", "32",
           "--param", "units=[8, 8]", "--param", "dense=4"]  # fmt: skip


@dataclasses.dataclass
class NoisyDrift(Forecaster):
    """A fast stand-in for the LSTM: each fit draws from (seed, fit number), and fits are independent."""

    seed: int = 0
    name = "noisy-drift"

    def __post_init__(self) -> None:
        self.fits_ = 0

    def _fit(self, windows: np.ndarray, targets: np.ndarray) -> None:
        noise = np.random.default_rng((self.seed, self.fits_)).normal(0, 1e-3)
        self.drift_ = float(np.mean(np.log(targets / windows[:, -1]))) + noise
        self.fits_ += 1

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        return windows[:, -1] * np.exp(self.drift_)

    def independent_fits(self) -> bool:
        return True

    def start_at_fit(self, number: int) -> NoisyDrift:
        self.fits_ = number
        return self


class Pretending(InProcess):
    """Runs in this process but plans for ``workers``, in reverse order: chunking and reassembly without Dask."""

    def __init__(self, workers: int) -> None:
        self.workers = workers  # type: ignore[misc]

    def run(self, tasks, on_report=None):  # type: ignore[no-untyped-def]
        return super().run(tasks[::-1], on_report)[::-1]


@pytest.fixture(scope="module")
def close() -> pd.Series:
    return load_prices("AAPL").frame["close"]


def _digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(float_format="%.17g").encode()).hexdigest()


def _same(a: object, b: object) -> None:
    assert _digest(a.forecasts) == _digest(b.forecasts)  # type: ignore[attr-defined]
    assert a.folds.drop(columns="seconds").equals(b.folds.drop(columns="seconds"))  # type: ignore[attr-defined]


def test_chunks_keep_every_worker_busy() -> None:
    assert chunks_per_member(1, 60, 1) == 1
    assert chunks_per_member(1, 60, 2) == 2
    assert chunks_per_member(3, 60, 2) == 2  # 6 tasks on 2 workers, not 3
    assert chunks_per_member(4, 60, 2) == 1
    assert chunks_per_member(1, 3, 16) == 3  # never more chunks than folds


@pytest.mark.parametrize("workers", [2, 5])
def test_chunked_independent_folds_give_the_sequential_bytes(close: pd.Series, workers: int) -> None:
    members = [NoisyDrift(seed=s) for s in (0, 10_000, 20_000)]
    splitter = ForecastConfig(model="naive", **TINY_GEOMETRY).splitter()
    n = len(close)
    reference = walk_forward(close, members, splitter, first_target=n - 95, last_target=n - 1)
    plan = WalkForwardPlan.of(close, members, splitter, first_target=n - 95, last_target=n - 1)
    assert plan.independent() and len(plan.tasks(workers)) > len(members)
    progress: list[tuple[int, int]] = []
    got = run_plans([plan], Pretending(workers), lambda done, total, row: progress.append((done, total)))[0]
    _same(got, reference)
    assert progress[0] == (0, 10) and progress[-1] == (10, 10)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)


def test_a_wrong_fit_number_would_change_the_bytes(close: pd.Series) -> None:
    """The check above can fail: members that ignore their fit number give other forecasts."""

    class Ignoring(NoisyDrift):
        def start_at_fit(self, number: int) -> NoisyDrift:
            return self

    splitter = ForecastConfig(model="naive", **TINY_GEOMETRY).splitter()
    n = len(close)
    reference = walk_forward(close, [Ignoring(seed=1)], splitter, first_target=n - 95, last_target=n - 1)
    got = parallel_walk_forward(close, [Ignoring(seed=1)], splitter, first_target=n - 95, last_target=n - 1,
                                runner=Pretending(3))  # fmt: skip
    assert _digest(got.forecasts) != _digest(reference.forecasts)


@pytest.mark.parametrize("params", [{}, {"warm_start": False}], ids=["warm-start", "no-warm-start"])
def test_lstm_members_and_folds_apart_give_the_sequential_bytes(close: pd.Series, params: dict) -> None:
    config = ForecastConfig(seeds=3, **TINY_GEOMETRY, params={**TINY_LSTM, **params})
    n = len(close)
    reference = walk_forward(close, config.forecasters(), config.splitter(), first_target=n - 30, last_target=n - 1)
    got = parallel_walk_forward(close, config.forecasters(), config.splitter(), first_target=n - 30,
                                last_target=n - 1, runner=Pretending(2))  # fmt: skip
    _same(got, reference)


@pytest.fixture(scope="module")
def cluster() -> Iterator[TaskRunner]:
    """A real loopback LocalCluster of two workers, started once for the module."""
    with ExecutorSession("local", 2) as session:
        yield session.runner(2)


@pytest.mark.slow
def test_lstm_ensemble_on_a_real_cluster_gives_the_sequential_bytes(close: pd.Series, cluster: TaskRunner) -> None:
    assert cluster.workers == 2 and not isinstance(cluster, InProcess)
    config = ForecastConfig(seeds=3, **TINY_GEOMETRY, params=TINY_LSTM)
    n = len(close)
    reference = walk_forward(close, config.forecasters(), config.splitter(), first_target=n - 30, last_target=n - 1)
    for _ in range(2):  # again on the same workers: what they ran before must not matter
        progress: list[int] = []
        got = parallel_walk_forward(close, config.forecasters(), config.splitter(), first_target=n - 30,
                                    last_target=n - 1, runner=cluster,
                                    on_fold=lambda done, total, row, seen=progress: seen.append(done))  # fmt: skip
        _same(got, reference)
        assert progress[0] == 0 and progress[-1] == 3


@pytest.mark.slow
def test_cli_forecasts_are_byte_identical_whatever_the_workers(tmp_path: Path) -> None:
    outputs = {}
    for name, mode in {"sync": ["--scheduler", "sync"], "one worker": ["--scheduler", "local", "--workers", "1"],
                       "two workers": ["--workers", "2"]}.items():  # fmt: skip
        out = tmp_path / name.replace(" ", "-")
        result = bt("walk-forward", "AAPL", *TINY_WF, "--seeds", "3", "--param", "warm_start=false", "--no-cache",
                    "--out", str(out), *mode)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert ("Dask dashboard: http://127.0.0.1:" in result.stderr) == (name != "sync"), result.stderr
        outputs[name] = [(out / f).read_bytes() for f in ("forecasts.csv", "baselines.csv")]
    assert outputs["one worker"] == outputs["sync"]
    assert outputs["two workers"] == outputs["sync"]
    assert b"member_2" in outputs["sync"][0]


def test_executor_starts_a_cluster_only_where_something_is_gained() -> None:
    auto = ExecutorSession()
    assert auto.cluster_size(1) == 0  # one warm-started member, or cached forecasts: this process
    assert auto.cluster_size(4) == min(4, auto.cluster_size(10_000))  # never more workers than pieces
    assert ExecutorSession(workers=1).cluster_size(4) == 0
    assert ExecutorSession(workers=3).cluster_size(8) == 3
    assert ExecutorSession("sync", 4).cluster_size(8) == 0
    assert ExecutorSession("local", 1).cluster_size(8) == 1  # asked for: a cluster even of one
    assert isinstance(auto.runner(1), InProcess)


def test_help_imports_no_dask_tensorflow_or_backtrader() -> None:
    code = ("import sys; from typer.testing import CliRunner; from backtests.cli import app;"
            "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output;"
            "r = CliRunner().invoke(app, ['run', '--help']); assert r.exit_code == 0, r.output;"
            "assert '--workers' in r.output and '--scheduler' in r.output, r.output;"
            "heavy = [m for m in ('tensorflow', 'backtrader', 'dask', 'distributed') if m in sys.modules];"
            "assert not heavy, heavy")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_cached_run_draws_the_tearsheet_the_report_rebuild_draws(tmp_path: Path) -> None:
    """One warm-started member runs in this process (no cluster); a cached run with another strategy
    option starts its tearsheet in the drawing process, and ``bt report`` rebuilds the same bytes."""
    cold = bt("run", "lstm-strategy", "AAPL", *TINY_CLI, "--out", str(tmp_path / "cold"))
    assert cold.returncode == 0, cold.stderr
    assert "Dask" not in cold.stderr
    warm = bt("run", "lstm-strategy", "AAPL", *TINY_CLI, "--size", "0.5", "--out", str(tmp_path / "warm"))
    assert warm.returncode == 0, warm.stderr
    assert "from cache" in warm.stdout and "Dask" not in warm.stderr
    shutil.copytree(tmp_path / "warm", tmp_path / "again")
    rebuilt = bt("report", str(tmp_path / "again"))
    assert rebuilt.returncode == 0, rebuilt.stderr
    for name in ("tearsheet.html", "report.html"):
        assert (tmp_path / "warm" / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    assert (tmp_path / "warm" / "tearsheet.html").read_bytes() != (tmp_path / "cold" / "tearsheet.html").read_bytes()


def test_tearsheet_draws_each_figure_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.backend_bases import FigureCanvasBase
    from matplotlib.figure import Figure

    from reports.tearsheet import tearsheet_html

    counts = {"print_figure": 0, "draw": 0}
    for owner, name in ((FigureCanvasBase, "print_figure"), (Figure, "draw")):
        original = getattr(owner, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            counts[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(owner, name, counted)
    returns = load_prices("AAPL").frame["close"].pct_change().iloc[-300:].rename("strategy")
    bench = load_prices("SPY").frame["close"].pct_change().reindex(returns.index).rename("SPY")
    figures = tearsheet_html(returns, bench, "AAPL test").count("<svg")
    assert counts["print_figure"] == figures > 10  # every figure saved once, into the page
    # Drawn once each (seaborn draws one of them once more while building it); quantstats alone: 3 times each.
    assert counts["draw"] <= figures + 1


_DRAW = """
import hashlib, sys
from backtests.data import load_prices
from reports import tearsheet
if sys.argv[1] == "drawing-process":
    tearsheet.prepare_drawing_process()
returns = load_prices("AAPL").frame["close"].pct_change().iloc[-300:].rename("strategy")
bench = load_prices("SPY").frame["close"].pct_change().reindex(returns.index).rename("SPY")
page = tearsheet.tearsheet_html(returns, bench, "AAPL test")
import scipy.stats
print(hashlib.sha256(page.encode()).hexdigest(), "Array API Standard Support" in scipy.stats.linregress.__doc__)
"""


def test_the_drawing_process_draws_the_same_tearsheet_as_a_plain_process() -> None:
    """The drawing process's page is the same bytes as one drawn in a plain process, and it leaves the
    libraries it imports as they are (scipy's docstrings as scipy writes them; no stand-ins)."""
    got = {}
    for mode in ("plain", "drawing-process"):
        done = subprocess.run([sys.executable, "-c", _DRAW, mode], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        got[mode] = done.stdout.split()
    assert got["plain"] == got["drawing-process"]


@pytest.mark.slow
def test_workers_let_go_stop_in_the_background_and_the_session_waits_for_them() -> None:
    """``bt run`` lets its workers go once the forecasts are done: the cluster stops while the report is
    written, and closing the session waits for it; nothing listens at the scheduler's address after."""
    with ExecutorSession("local", 2) as session:
        runner = session.runner(2)
        assert isinstance(runner, DaskRunner) and runner.workers == 2
        address = runner.client.scheduler.address
        assert session.draw(os.getpid).result() != os.getpid()  # on a worker
        session.release_workers()
        assert session.draw(os.getpid).result() == os.getpid()  # no workers: here
        session.release_workers()  # again: nothing left to let go
    host, port = address.split("://", 1)[1].rsplit(":", 1)  # tls:// on the default cluster
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=2).close()
