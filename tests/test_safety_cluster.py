"""Issue 18, the cluster's part: ``--scheduler`` forms and probes, the authenticated local cluster, sweep limits.

Every listener and cluster here is started by the test on 127.0.0.1 and stopped by it. No assert
depends on timing: waits are for events (a row written, a process ended) under generous limits
that only a real hang reaches.
"""

from __future__ import annotations

import http.server
import json
import operator
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backtests.dask_setup import dask_client
from backtests.errors import ConfigError
from backtests.parallel import ExecutorSpec
from backtests.scheduler_probe import probe_scheduler
from backtests.sweeps.spec import build_jobs, check_job_count

from .conftest import bt

RIDGE = ["--model", "ridge", "--start", "2026-03-01", "--train-days", "120", "--lean"]
BT_CODE = "import sys; from backtests.cli import main; sys.argv[0] = 'bt'; main()"
DASK = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]
HANG = 120  # seconds: only a real hang waits this long


def _one_line_error(result: subprocess.CompletedProcess[str], *parts: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def _bounded(fn: Callable[[], object]) -> BaseException | None:
    """``fn()`` in a thread, waited for at most HANG seconds: the exception it raised (None if none)."""
    raised: list[BaseException | None] = [None]

    def call() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            raised[0] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), f"hung for {HANG} s"
    return raised[0]


# --- which addresses --scheduler takes


@pytest.mark.parametrize(
    "address",
    ["http://127.0.0.1:8787", "ws://127.0.0.1:8786", "https://example.org:443", "tcp://127.0.0.1",
     "127.0.0.1:8786", "tcp://127.0.0.1:99999", "tcp://127.0.0.1:8786/status", "inproc://x"],
)  # fmt: skip
def test_only_dask_addresses_are_taken(address: str) -> None:
    with pytest.raises(ConfigError, match="tcp://HOST:PORT or tls://HOST:PORT"):
        ExecutorSpec(address)
    for good in ("local", "sync", "tcp://127.0.0.1:8786", "tcp://[::1]:8786", "tcp://my-host.example:1"):
        ExecutorSpec(good)


def test_a_web_address_is_one_line_before_the_sweep_folder(tmp_path: Path) -> None:
    address = "http://127.0.0.1:8787"
    result = bt("sweep", "lstm-strategy", "--tickers", "AAPL", *RIDGE, "--scheduler", address, "--out",
                str(tmp_path / "s"))  # fmt: skip
    _one_line_error(result, address, "not a scheduler address", "http:// or ws://")
    assert not (tmp_path / "s").exists()


# --- listeners that are not a Dask scheduler


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"a dashboard")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    """A real HTTP server, as Dask's dashboard is one."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _serve(answer: Callable[[socket.socket], None]) -> tuple[str, socket.socket]:
    """A listener that hands each connection to ``answer`` in a thread (closed with the returned socket)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def loop() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    answer(conn)
                except OSError:
                    pass

    threading.Thread(target=loop, daemon=True).start()
    return f"tcp://127.0.0.1:{listener.getsockname()[1]}", listener


def test_an_http_server_is_named_in_one_line_by_the_cli(tmp_path: Path, http_server: str) -> None:
    port = http_server.rsplit(":", 1)[1]
    result = bt("sweep", "lstm-strategy", "--tickers", "AAPL", *RIDGE, "--scheduler", http_server, "--out",
                str(tmp_path / "s"))  # fmt: skip
    _one_line_error(result, http_server, "an HTTP server answered", f"is {port} the dashboard?", "8786")
    assert not (tmp_path / "s").exists()


def test_a_listener_that_never_answers_is_an_error_not_a_hang() -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; nobody ever reads or writes
    address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
    try:
        raised = _bounded(lambda: probe_scheduler(address, seconds=1.0))
    finally:
        silent.close()
    assert isinstance(raised, ConfigError) and "sent no Dask handshake within 1 s" in str(raised), raised
    with pytest.raises(ConfigError, match="cannot be reached"):
        probe_scheduler(address, seconds=1.0)  # closed now: refused at once


def _answer_400(conn: socket.socket) -> None:
    conn.settimeout(HANG)
    conn.recv(1024)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def _answer_400_at_once(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")


def _garbage(conn: socket.socket) -> None:
    conn.sendall(b"\xff" * 32)


@pytest.mark.parametrize(
    ("answer", "said"),
    [(_answer_400, "an HTTP server answered ('HTTP/1.1 400 Bad Request')"),
     (_answer_400_at_once, "an HTTP server answered ('HTTP/1.1 400 Bad Request')"),
     (_garbage, "which is not Dask's handshake"), (lambda conn: None, "closed the connection")],
)  # fmt: skip
def test_a_server_that_answers_something_else_is_named(answer: Callable[[socket.socket], None], said: str) -> None:
    address, listener = _serve(answer)
    try:
        raised = _bounded(lambda: probe_scheduler(address, seconds=2.0))
    finally:
        listener.close()
    assert isinstance(raised, ConfigError), raised
    assert str(raised).startswith(f"scheduler {address} did not answer as a Dask scheduler") and said in str(raised)
    assert "\n" not in str(raised)


def test_bt_run_checks_its_scheduler_when_its_session_opens() -> None:
    """``bt run``/``bt walk-forward``'s executor checks ``--scheduler`` as it opens, before any data is read."""
    from backtests.parallel import ExecutorSession

    address, listener = _serve(_garbage)
    try:
        with pytest.raises(ConfigError, match="which is not Dask's handshake"), ExecutorSession(address):
            pass
    finally:
        listener.close()


# --- the default local cluster: authenticated


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[Any]:
    """A client of bt's default cluster, started as ``bt sweep`` starts it (``bt run`` the same, and its
    workers import TensorFlow too: slower to start, no different to connect to)."""
    spec = ExecutorSpec("local", 2)
    with dask_client(spec.scheduler, spec.workers, spec.security(), lambda _: None) as client:
        yield client


def test_a_foreign_client_cannot_connect_to_the_default_cluster(local_cluster: Any) -> None:
    from distributed import Client
    from distributed.security import Security

    own = local_cluster
    assert own.submit(operator.add, 1, 2, pure=False).result() == 3  # bt's own client is in
    address = own.scheduler.address
    assert address.startswith("tls://127.0.0.1:")
    with urllib.request.urlopen(own.dashboard_link.replace("/status", "/json/identity.json"), timeout=30) as page:
        assert json.loads(page.read())["address"] == address  # what any local process can read
    plain = address.replace("tls://", "tcp://")
    for target, security in ((address, None), (address, Security.temporary()), (plain, None)):
        with pytest.raises((OSError, TypeError)):  # no TLS / another CA / TLS refused: never connected
            Client(target, security=security, timeout="5s")
    no_certificate = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    no_certificate.check_hostname, no_certificate.verify_mode = False, ssl.CERT_NONE
    with pytest.raises(ConfigError, match="TLS handshake failed"):  # the server wants bt's own client certificate
        probe_scheduler(address, no_certificate, seconds=5.0)


def test_the_dashboard_of_a_cluster_is_not_taken_for_its_scheduler(local_cluster: Any) -> None:
    port = local_cluster.dashboard_link.split(":")[2].split("/")[0]
    raised = _bounded(lambda: probe_scheduler(f"tcp://127.0.0.1:{port}", seconds=2.0))
    assert isinstance(raised, ConfigError) and f"is {port} the dashboard?" in str(raised), raised


# --- sweep limits


def test_a_million_jobs_are_refused_before_any_is_built(tmp_path: Path) -> None:
    lookbacks = ",".join(str(n) for n in range(2, 102))
    thresholds = ",".join(f"{n / 10_000:.4f}" for n in range(100))
    commissions = ",".join(f"{n / 100_000:.5f}" for n in range(50))
    result = bt("sweep", "lstm-strategy", "--tickers", "AAPL,MSFT", "--grid", f"lookback={lookbacks}", "--grid",
                f"threshold={thresholds}", "--grid", f"commission={commissions}", *RIDGE, "--scheduler", "sync",
                "--out", str(tmp_path / "s"))  # fmt: skip
    _one_line_error(result, "the sweep has 1,000,000 jobs (2 ticker(s) x 100 lookback x 100 threshold x 50 "
                    "commission), more than --max-jobs 10,000", "--max-jobs 1000000")  # fmt: skip
    assert not (tmp_path / "s").exists()


def test_jobs_are_counted_not_built() -> None:
    from backtests.config import DataConfig, RunConfig

    huge = tuple((f"params.k{i}", tuple(range(100))) for i in range(6))  # 10^12 points: building any would hang
    with pytest.raises(ConfigError, match="1,000,000,000,000 jobs"):
        build_jobs(RunConfig(data=DataConfig("AAPL")), ["AAPL"], huge)
    assert check_job_count(3, (("lookback", (10, 20)),), None) == 6
    with pytest.raises(ConfigError, match=r"has 6 jobs \(3 ticker\(s\) x 2 lookback\), more than --max-jobs 4"):
        check_job_count(3, (("lookback", (10, 20)),), 4)
    with pytest.raises(ConfigError, match="--max-jobs must be at least 1"):
        check_job_count(1, (), 0)


# --- a scheduler that goes away, and Ctrl-C


def _scheduler_alone(file: Path) -> subprocess.Popen[bytes]:
    """A real ``dask scheduler`` on 127.0.0.1 with no worker, waited for (its address in ``file``)."""
    scheduler = subprocess.Popen([*DASK, "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                                  "127.0.0.1:0", "--scheduler-file", str(file)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + HANG
    while not (file.exists() and file.stat().st_size):
        assert scheduler.poll() is None and time.monotonic() < deadline, "dask scheduler did not start"
        time.sleep(0.1)
    return scheduler


def test_a_scheduler_with_no_workers_is_one_line_not_a_wait_forever(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Work sent to a scheduler that has no worker would wait forever: after ``BT_WORKER_WAIT`` seconds it is a
    one-line error naming the scheduler and what to start, found before the sweep folder is made."""
    scheduler = _scheduler_alone(tmp_path / "scheduler.json")
    address = json.loads((tmp_path / "scheduler.json").read_text())["address"]
    monkeypatch.setenv("BT_WORKER_WAIT", "1")
    try:
        result = bt("sweep", "lstm-strategy", *GRID_8, "--scheduler", address, "--out", str(tmp_path / "s"))
    finally:
        scheduler.kill()
        scheduler.wait(timeout=HANG)
    line = _one_line_error(result, f"scheduler {address} has no workers after 1 s", f"dask worker {address}",
                           "BT_WORKER_WAIT")  # fmt: skip
    assert line and not (tmp_path / "s").exists()


@pytest.mark.parametrize("value", ["soon", "0", "-3", "nan"])
def test_a_malformed_worker_wait_is_one_line(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from backtests.dask_setup import worker_wait

    monkeypatch.setenv("BT_WORKER_WAIT", value)
    with pytest.raises(ConfigError, match=f"BT_WORKER_WAIT must be a number of seconds above 0.*Got '{value}'"):
        worker_wait()


def _start_scheduler(folder: Path) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], str]:
    """A real ``dask scheduler`` and one ``dask worker`` (one thread) on 127.0.0.1, waited for."""
    from distributed import Client

    file = folder / "scheduler.json"
    scheduler = _scheduler_alone(file)
    worker = subprocess.Popen([*WORKER, "--scheduler-file", str(file), "--host", "127.0.0.1", "--nthreads", "1",
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    address = json.loads(file.read_text())["address"]
    with Client(address, timeout="30s") as client:
        client.wait_for_workers(1, timeout=HANG)
    return scheduler, worker, address


def _rows(folder: Path) -> int:
    try:
        return max(0, len((folder / "results.csv").read_text(encoding="utf-8").splitlines()) - 1)
    except OSError:
        return 0


def _wait_for_a_row(folder: Path, child: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + HANG * 2
    while _rows(folder) < 1:
        assert child.poll() is None and time.monotonic() < deadline, "the sweep ended before its first row"
        time.sleep(0.05)


GRID_8 = ["--tickers", "AAPL", "--grid", "lookback=" + ",".join(str(n) for n in range(10, 18)), *RIDGE]


def test_a_scheduler_killed_mid_sweep_is_one_line_and_the_rows_are_kept(tmp_path: Path) -> None:
    scheduler, worker, address = _start_scheduler(tmp_path)
    out = tmp_path / "s"
    try:
        child = subprocess.Popen([sys.executable, "-c", BT_CODE, "sweep", "lstm-strategy", *GRID_8, "--scheduler",
                                  address, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)  # fmt: skip
        _wait_for_a_row(out, child)
        scheduler.kill()
        _, stderr = child.communicate(timeout=HANG)
    finally:
        for proc in (worker, scheduler):
            proc.kill()
            proc.wait(timeout=HANG)
    done = _rows(out)
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert child.returncode == 2 and "Traceback" not in stderr and len(errors) == 1, stderr
    assert f"the Dask scheduler {address} went away while jobs ran" in errors[0]
    assert f"rerun the same command: {done} of 8 jobs have results, saved in {out}, and only the rest" in errors[0]
    assert 1 <= done < 8
    resumed = bt("sweep", "lstm-strategy", *GRID_8, "--scheduler", "sync", "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert f"8 of 8 jobs have results ({8 - done} run now, {done} from an earlier run)" in resumed.stdout


def _report_then_wait(report: Callable[[str], None]) -> None:
    """A task (run on a worker) that says it started, then waits until its worker is stopped."""
    report("started")
    threading.Event().wait(HANG)


def test_a_scheduler_killed_under_bt_run_is_one_line(tmp_path: Path) -> None:
    """``bt run``'s runner (``DaskRunner``): a lost scheduler is a SchedulerLostError, not Dask's cancellation."""
    from distributed import Client

    from backtests.dask_setup import SchedulerLostError
    from backtests.parallel import DaskRunner
    from forecasting.parallel import Task

    scheduler, worker, address = _start_scheduler(tmp_path)
    started, raised = threading.Event(), []
    try:
        with Client(address, timeout="30s") as client:
            worker_address = next(iter(client.scheduler_info()["workers"]))
            with pytest.raises(ConfigError, match="is it a worker's address"):  # a Dask server, not the scheduler
                ExecutorSpec(worker_address).check_reachable()
            runner = DaskRunner(client, address)

            def run() -> None:
                try:
                    runner.run([Task(_report_then_wait, (), "wait")], on_report=lambda _: started.set())
                except BaseException as exc:  # noqa: BLE001 - handed to the test
                    raised.append(exc)

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            assert started.wait(HANG), "the task never started"
            scheduler.kill()
            thread.join(HANG)
            assert not thread.is_alive(), "the runner hung after its scheduler died"
    finally:
        for proc in (worker, scheduler):
            proc.kill()
            proc.wait(timeout=HANG)
    assert len(raised) == 1 and isinstance(raised[0], SchedulerLostError), raised
    assert f"the Dask scheduler {address} went away" in str(raised[0]) and "\n" not in str(raised[0])


def test_ctrl_c_on_a_sweep_is_one_line_without_worker_tracebacks(tmp_path: Path) -> None:
    out = tmp_path / "s"
    grid = ["--tickers", "AAPL", "--grid", "lookback=" + ",".join(str(n) for n in range(10, 30)), *RIDGE]
    child = subprocess.Popen([sys.executable, "-c", BT_CODE, "sweep", "lstm-strategy", *grid, "--workers", "2",
                              "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)  # fmt: skip
    try:
        _wait_for_a_row(out, child)
        os.killpg(child.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to bt and its workers alike
        _, stderr = child.communicate(timeout=HANG)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert f"of 20 jobs have results, saved in {out}; rerun the same command" in stderr
    deadline = time.monotonic() + HANG  # the workers are stopped with bt
    while True:
        try:
            os.killpg(child.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "worker processes outlived bt"
        time.sleep(0.1)
