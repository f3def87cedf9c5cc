"""``bt sweep`` on real Dask clusters started on 127.0.0.1 by the tests, against the in-process run.

Every cluster here is a real ``dask scheduler`` and real ``dask worker`` processes (or a
``LocalCluster``) listening on the loopback address only; each test stops what it started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest

from backtests.sweeps.job import TIMING

from .conftest import bt

DASK = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]
TINY_LSTM = ["--start", "2026-06-01", "--train-days", "80", "--lookback", "10", "--epochs", "2", "--batch-size", "32",
             "--param", "units=[8, 8]", "--param", "dense=4", "--lean"]  # fmt: skip
RIDGE = ["--model", "ridge", "--start", "2026-03-01", "--train-days", "120", "--lookback", "20", "--lean"]
BT_CODE = "import sys; from backtests.cli import main; sys.argv[0] = 'bt'; main()"


class Cluster:
    """A scheduler and ``n`` workers (each under its nanny) on 127.0.0.1; ``stop`` ends them all."""

    def __init__(self, tmp: Path, workers: int, env: dict[str, str], tls: list[str] | None = None) -> None:
        self.file = tmp / "scheduler.json"
        protocol = ["--protocol", "tls"] if tls else []
        self.procs = [subprocess.Popen([*DASK, "--host", "127.0.0.1", "--port", "0", *protocol, *(tls or []),
                                        "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(self.file)],
                                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]  # fmt: skip
        self._wait_for_file()
        for _ in range(workers):
            self.procs.append(subprocess.Popen(
                [*WORKER, "--scheduler-file", str(self.file), "--host", "127.0.0.1", "--nthreads", "1",
                 "--no-dashboard", "--memory-limit", "4GiB", *(tls or [])],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        self.address = json.loads(self.file.read_text())["address"]
        self._wait_for_workers(workers, tls)

    def _wait_for_file(self) -> None:
        for _ in range(600):
            if self.file.exists() and self.file.stat().st_size:
                return
            time.sleep(0.1)
        raise RuntimeError("dask scheduler did not start")

    def _wait_for_workers(self, n: int, tls: list[str] | None) -> None:
        from distributed import Client

        security = None
        if tls:
            from distributed.security import Security

            files = dict(zip(tls[::2], tls[1::2], strict=True))
            security = Security(tls_ca_file=files["--tls-ca-file"], tls_client_cert=files["--tls-cert"],
                                tls_client_key=files["--tls-key"], require_encryption=True)  # fmt: skip
        with Client(self.address, security=security, timeout="30s") as client:
            client.wait_for_workers(n, timeout=120)

    def worker_processes(self) -> list[psutil.Process]:
        """The worker processes themselves (children of the nannies)."""
        return [child for nanny in self.procs[1:] for child in psutil.Process(nanny.pid).children()]

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def worker_env(tmp_path: Path) -> dict[str, str]:
    """Workers get a cache of their own, so they compute what the in-process run computed."""
    return {**os.environ, "BT_CACHE_DIR": str(tmp_path / "worker-cache")}


@pytest.fixture
def cluster(tmp_path: Path, worker_env: dict[str, str]) -> Iterator[Cluster]:
    c = Cluster(tmp_path, 2, worker_env)
    yield c
    c.stop()


def _results(folder: Path) -> pd.DataFrame:
    frame = pd.read_csv(folder / "results.csv", dtype={"job_id": str})
    return frame.drop(columns=list(TIMING))


def _sweep(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return bt("sweep", "lstm-strategy", *extra, "--out", str(out))


@pytest.mark.slow
def test_real_cluster_gives_the_in_process_results(tmp_path: Path, cluster: Cluster) -> None:
    """3 tickers x 2 grid points of a tiny LSTM: the same results.csv on two workers as in-process."""
    args = ["--tickers", "AAPL,MSFT,SPY", "--grid", "lookback=8,10", *TINY_LSTM]
    local = _sweep(tmp_path / "sync", *args, "--scheduler", "sync")
    assert local.returncode == 0, local.stderr
    remote = _sweep(tmp_path / "cluster", *args, "--scheduler", cluster.address)
    assert remote.returncode == 0, remote.stderr
    assert "6 of 6 jobs have results (6 run now" in remote.stdout
    expected, got = _results(tmp_path / "sync"), _results(tmp_path / "cluster")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    workers = set(pd.read_csv(tmp_path / "cluster" / "results.csv")["worker"].astype(str))
    assert len(workers) == 2  # both workers did jobs
    for job in expected["job_id"]:  # each job's own forecasts, byte for byte
        same = (tmp_path / "sync" / "runs" / job / "forecasts.csv").read_bytes()
        assert (tmp_path / "cluster" / "runs" / job / "forecasts.csv").read_bytes() == same


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_loses_nothing(tmp_path: Path, cluster: Cluster) -> None:
    args = ["--tickers", "AAPL,MSFT,SPY", "--grid", "lookback=8,10", *TINY_LSTM]
    reference = _sweep(tmp_path / "sync", *args, "--scheduler", "sync")
    assert reference.returncode == 0, reference.stderr
    out = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-c", BT_CODE, "sweep", "lstm-strategy", *args, "--scheduler",
                              cluster.address, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not (out / "results.csv").exists() or len(pd.read_csv(out / "results.csv")) < 1:
        assert child.poll() is None and time.monotonic() < deadline, "the sweep ended before a worker could be killed"
        time.sleep(0.2)
    victims = cluster.worker_processes()
    victims[0].send_signal(signal.SIGKILL)  # mid-job: each worker is busy while jobs remain
    stdout, stderr = child.communicate(timeout=600)
    assert child.returncode == 0, stderr
    assert not victims[0].is_running() or victims[0].status() == psutil.STATUS_ZOMBIE  # killed, not yet reaped
    pd.testing.assert_frame_equal(_results(out), _results(tmp_path / "sync"), check_exact=True)


def test_bad_data_is_a_failure_row_not_the_end(tmp_path: Path) -> None:
    result = _sweep(tmp_path / "s", "--tickers", "AAPL,ZZZZ", *RIDGE, "--source", "bundled", "--scheduler", "sync")
    assert result.returncode == 0, result.stderr
    failures = pd.read_csv(tmp_path / "s" / "failures.csv")
    assert list(failures["ticker"]) == ["ZZZZ"] and "no bundled data" in failures["error"].iloc[0]
    assert list(pd.read_csv(tmp_path / "s" / "results.csv")["ticker"]) == ["AAPL"]
    assert "1 failed" in result.stdout


def test_rerun_with_a_larger_grid_computes_only_the_new_jobs(tmp_path: Path) -> None:
    out = tmp_path / "s"
    first = _sweep(out, "--tickers", "AAPL,MSFT", "--grid", "lookback=10", *RIDGE, "--scheduler", "sync")
    assert first.returncode == 0, first.stderr
    before = pd.read_csv(out / "results.csv", dtype={"job_id": str})
    second = _sweep(out, "--tickers", "AAPL,MSFT", "--grid", "lookback=10,20", *RIDGE, "--scheduler", "sync")
    assert second.returncode == 0, second.stderr
    assert "4 of 4 jobs have results (2 run now, 2 from an earlier run)" in second.stdout
    after = pd.read_csv(out / "results.csv", dtype={"job_id": str})
    kept = after.set_index("job_id").loc[before["job_id"]].reset_index()
    pd.testing.assert_frame_equal(kept, before, check_exact=True)  # earlier rows untouched, timing included
    again = _sweep(out, "--tickers", "AAPL,MSFT", "--grid", "lookback=10,20", *RIDGE, "--scheduler", "sync")
    assert "(0 run now, 4 from an earlier run)" in again.stdout


def test_interrupted_sweep_resumes_with_only_the_missing_jobs(tmp_path: Path) -> None:
    out = tmp_path / "s"
    args = ["--tickers", "AAPL,MSFT,SPY", "--grid", "lookback=10,20,30", *RIDGE, "--scheduler", "sync"]
    child = subprocess.Popen([sys.executable, "-c", BT_CODE, "sweep", "lstm-strategy", *args, "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    while not (out / "results.csv").exists() or len(pd.read_csv(out / "results.csv")) < 2:
        assert child.poll() is None, child.communicate()[1]
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=120)
    done = len(pd.read_csv(out / "results.csv"))
    assert child.returncode == 130 and "rerun the same command" in stderr and "Traceback" not in stderr
    assert f"interrupted: {len(pd.read_csv(out / 'results.csv'))} of 9 jobs have results" in stderr
    assert 2 <= done < 9
    resumed = _sweep(out, *args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"9 of 9 jobs have results ({9 - done} run now, {done} from an earlier run)" in resumed.stdout


@pytest.mark.parametrize(
    ("args", "part"),
    [
        (["--tickers", "AAPL", "--grid", "bogus=1,2"], "unknown grid key 'bogus'"),
        (["--tickers", "AAPL", "--grid", "lookback=10,"], "empty value"),
        (["--universe", "nasdaq"], "unknown universe"),
        (["--universe", "sp500", "--as-of", "1990-01-02"], "1990-01-02"),
        (["--tickers", "AAPL", "--scheduler", "tcp://127.0.0.1:9"], "cannot be reached"),
        (["--tickers", "AAPL", "--grid", "model=ridge", "--epochs", "3"], "epochs"),
        (["--tickers", "AAPL", "--workers", "0"], "--workers"),
    ],
)
def test_bad_options_are_one_line_errors_before_any_job(tmp_path: Path, args: list[str], part: str) -> None:
    result = _sweep(tmp_path / "s", *args, *RIDGE)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and part in lines[0], result.stderr
    assert not (tmp_path / "s" / "results.csv").exists()


def test_default_local_cluster_listens_on_loopback_only(tmp_path: Path) -> None:
    result = _sweep(tmp_path / "s", "--tickers", "AAPL,MSFT", *RIDGE, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "Dask dashboard: http://127.0.0.1:" in result.stderr
    assert len(pd.read_csv(tmp_path / "s" / "results.csv")) == 2


def _certificates(folder: Path) -> list[str]:
    """A CA and one certificate for 127.0.0.1 signed by it, made here for the test."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("bt test CA")).issuer_name(name("bt test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))  # fmt: skip
    cert = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))  # fmt: skip
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "cert.pem").write_bytes(cert.public_bytes(pem))
    (folder / "key.pem").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))  # fmt: skip
    return ["--tls-ca-file", str(folder / "ca.pem"), "--tls-cert", str(folder / "cert.pem"),
            "--tls-key", str(folder / "key.pem")]  # fmt: skip


@pytest.mark.slow
def test_tls_secured_cluster(tmp_path: Path, worker_env: dict[str, str]) -> None:
    tls = _certificates(tmp_path)
    secured = Cluster(tmp_path, 1, worker_env, tls=tls)
    try:
        assert secured.address.startswith("tls://127.0.0.1:")
        result = _sweep(tmp_path / "s", "--tickers", "AAPL,MSFT", *RIDGE, "--scheduler", secured.address, *tls)
        assert result.returncode == 0, result.stderr
        assert len(pd.read_csv(tmp_path / "s" / "results.csv")) == 2
        plain = _sweep(tmp_path / "p", "--tickers", "AAPL", *RIDGE, "--scheduler", secured.address)
        assert plain.returncode == 2 and "--tls-ca-file" in plain.stderr  # no certificate, no connection
    finally:
        secured.stop()
