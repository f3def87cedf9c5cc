"""One executor: sweep jobs, a portfolio's forecasts and its backtests are tasks whose results come back.

A real ``dask scheduler`` and ``dask worker`` on 127.0.0.1, the worker started with ANOTHER
``BT_CACHE_DIR`` than the client's (as workers on other machines would be): a sweep and a portfolio
run there give the in-process results, and every model is trained on the worker (its cache fills,
the client's stays empty). No assert depends on timing: waits are bounded by generous limits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from backtests.parallel import ExecutorSession
from backtests.sweeps.job import TIMING
from forecasting.parallel import InProcess, Task

from .conftest import bt

HANG = 120  # seconds: only a real hang waits this long
SHORT = ["--model", "ridge", "--start", "2026-06-01", "--train-days", "120", "--lookback", "20"]
TABLES = ("returns.csv", "equity.csv", "weights.csv", "trades.csv", "forecasts.csv", "tickers.csv")


def _square(x: int, report: Any) -> int:
    report(x)
    return x * x


def test_in_process_hands_each_result_over_as_it_completes() -> None:
    seen: list[tuple[int, int]] = []
    reports: list[int] = []
    InProcess().each([Task(_square, (n,), f"sq{n}") for n in (3, 1, 2)], lambda i, r: seen.append((i, r)),
                     reports.append)  # fmt: skip
    assert seen == [(0, 9), (1, 1), (2, 4)] and reports == [3, 1, 2]


def test_where_a_job_runs() -> None:
    """One piece goes to a cluster only where one was asked for; a short job starts none of its own."""
    auto, local, sync = ExecutorSession(), ExecutorSession("local", 2), ExecutorSession("sync", 2)
    assert local.cluster_size(1, spread=True) == 2 and local.cluster_size(1) == 0
    assert auto.cluster_size(1, spread=True) == 0 and sync.cluster_size(5, spread=True) == 0
    assert auto.cluster_size(5) == min(5, os.cpu_count() or 1) or (os.cpu_count() or 1) < 2
    assert isinstance(auto.runner(5, start=False), InProcess)  # no cluster of its own for a short job
    assert isinstance(sync.runner(5, spread=True), InProcess)


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A scheduler and one one-thread worker whose BT_CACHE_DIR is its own; their address and that folder."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("remote")
    worker_cache = folder / "worker-cache"
    env = {**os.environ, "BT_CACHE_DIR": str(worker_cache), "XDG_CONFIG_HOME": str(folder / "worker-config")}
    file = folder / "scheduler.json"
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--dashboard-address", "127.0.0.1:0", "--scheduler-file",
                                  str(file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    procs = [scheduler]
    try:
        deadline = time.monotonic() + HANG
        while not (file.exists() and file.stat().st_size):
            assert scheduler.poll() is None and time.monotonic() < deadline, "dask scheduler did not start"
            time.sleep(0.1)
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                                       str(file), "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        address = json.loads(file.read_text())["address"]
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=HANG)
        yield address, worker_cache
    finally:
        for proc in reversed(procs):
            proc.kill()
            proc.wait(timeout=HANG)


def _in_process(monkeypatch: pytest.MonkeyPatch, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``bt`` with ``--scheduler sync`` and a cache of its own (the reference)."""
    with monkeypatch.context() as env:
        env.setenv("BT_CACHE_DIR", str(cache))
        return bt(*args, "--scheduler", "sync")


def test_a_sweep_on_workers_with_their_own_cache(remote: tuple[str, Path], tmp_path: Path, isolated_cache: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    address, worker_cache = remote
    args = ["sweep", "lstm-strategy", "--tickers", "AAPL,MSFT", "--grid", "lookback=10,20", *SHORT, "--lean"]
    reference = _in_process(monkeypatch, tmp_path / "sync-cache", *args, "--out", str(tmp_path / "sync"))
    assert reference.returncode == 0, reference.stderr
    before = len(_files(worker_cache))
    result = bt(*args, "--scheduler", address, "--out", str(tmp_path / "remote"))
    assert result.returncode == 0, result.stderr
    got, expected = (pd.read_csv(tmp_path / f / "results.csv", dtype={"job_id": str}) for f in ("remote", "sync"))
    pd.testing.assert_frame_equal(got.drop(columns=list(TIMING)), expected.drop(columns=list(TIMING)),
                                  check_exact=True)  # fmt: skip
    assert not any(str(w).startswith("local ") for w in got["worker"])  # every job ran on the worker
    assert _files(isolated_cache / "forecasts") == []  # nothing trained (nor cached) on the client
    assert len(_files(worker_cache)) > before


def test_a_portfolio_on_workers_with_their_own_cache(remote: tuple[str, Path], tmp_path: Path,
                                                     isolated_cache: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The forecasts come back from the worker's tasks: before, the client found nothing in its own cache and
    trained every model again itself."""
    address, worker_cache = remote
    args = ["run", "topk-strategy", "--tickers", "AAPL,MSFT,KO,JPM", *SHORT, "--k", "2"]
    reference = _in_process(monkeypatch, tmp_path / "sync-cache", *args, "--out", str(tmp_path / "sync"))
    assert reference.returncode == 0, reference.stderr
    before = len(_files(worker_cache))
    result = bt(*args, "--scheduler", address, "--out", str(tmp_path / "remote"))
    assert result.returncode == 0, result.stderr
    assert _files(isolated_cache / "forecasts") == []  # nothing trained (nor cached) on the client
    assert len(_files(worker_cache)) > before  # the model's and the baselines' walk-forwards, on the worker
    for name in TABLES:
        assert (tmp_path / "remote" / name).read_bytes() == (tmp_path / "sync" / name).read_bytes(), name
    again = bt(*args, "--scheduler", address, "--out", str(tmp_path / "again"), "--no-cache")
    assert again.returncode == 0, again.stderr  # no cache needed to carry the forecasts back
    assert (tmp_path / "again" / "trades.csv").read_bytes() == (tmp_path / "sync" / "trades.csv").read_bytes()
