"""Dask workers as this project wants them, and a connected client: shared by ``bt sweep`` and single runs.

The default cluster is a ``LocalCluster`` of worker processes on 127.0.0.1 only (scheduler, workers
and dashboard), one thread each, with a memory limit per worker. It speaks Dask's TLS with a
certificate authority and keys made for this cluster alone (``Security.temporary()``, kept in memory):
another local process that reads its address (from the dashboard, say) cannot connect, so it cannot
run code in ``bt`` or its workers. Its workers ignore Ctrl-C (``bt`` stops them) instead of each
printing a traceback. A ``--scheduler`` address is probed first (``scheduler_probe``): a listener that
is not a Dask scheduler is a one-line error in seconds, not a hang. When a worker starts (or joins),
TensorFlow's and BLAS's thread pools are set to one thread and, where the work trains models,
TensorFlow is imported once, so no task pays for it. This module imports ``distributed``; the
light ``backtests.parallel`` imports it only when a cluster is needed.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.security import Security

from .errors import BtError, ConfigError
from .scheduler_probe import probe_scheduler

QUIET = ("distributed", "bokeh", "tornado")


class SchedulerLostError(BtError):
    """The connection to the Dask scheduler broke while jobs ran (the scheduler stopped, or the network)."""


def one_thread_per_worker() -> None:
    """Run in each worker process when it starts: TensorFlow (read when it initialises) and BLAS get one thread.

    A worker is one core's worth of work; several threads per worker would only fight the
    other workers for the same cores.
    """
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"


class SetTensorflowThreads(WorkerPlugin):
    """A Dask worker plugin: one thread for TensorFlow once per worker, and with ``preload`` its import too."""

    name = "bt-lstm-tensorflow-threads"

    def __init__(self, preload: bool = False) -> None:
        self.preload = preload

    def setup(self, worker: Any) -> None:
        one_thread_per_worker()
        if self.preload:
            from forecasting.tf_runtime import keras_module

            keras_module()


class IgnoreInterrupts(WorkerPlugin):
    """A Dask worker plugin for ``bt``'s own local workers: Ctrl-C is for ``bt``, which stops them.

    A terminal's Ctrl-C reaches every process of the foreground group; each worker would end in a
    KeyboardInterrupt traceback of its own (two workers: 69 lines) under ``bt``'s one-line notice.
    """

    name = "bt-lstm-ignore-interrupts"

    def setup(self, worker: Any) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _local_cluster(workers: int | None, security: Any) -> Any:
    """A loopback LocalCluster of worker processes that speak TLS with ``security`` and ignore Ctrl-C; their own
    log lines are silenced below CRITICAL (a heartbeat that races the cluster's planned stop is an ERROR with a
    traceback, and anything that matters reaches the client as a task's exception)."""
    return LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address="127.0.0.1:0", memory_limit="auto",
                        silence_logs=logging.CRITICAL, security=security, protocol="tls://",
                        plugins=(IgnoreInterrupts(),))  # fmt: skip


def _connect(scheduler: str, security: Any) -> Any:
    """A client of the scheduler at ``scheduler``, probed first so that a wrong listener cannot hang it."""
    context = security.get_connection_args("client")["ssl_context"] if security is not None else None
    probe_scheduler(scheduler, context)
    try:
        return Client(scheduler, security=security, timeout="5s")
    except (OSError, TimeoutError) as exc:
        why = " ".join(str(exc).split())[:160]
        raise ConfigError(f"scheduler {scheduler} cannot be reached ({type(exc).__name__}: {why}); "
                          "start it or check --scheduler") from None  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - a Dask server that is no scheduler (a worker's or nanny's port)
        why = " ".join(str(exc).split())[:120]
        raise ConfigError(f"scheduler {scheduler} did not answer as a Dask scheduler ({type(exc).__name__}: "
                          f"{why}); is it a worker's address? check --scheduler") from None  # fmt: skip


WAIT_VAR = "BT_WORKER_WAIT"  # seconds a remote scheduler may take to have a worker
WAIT_DEFAULT = 60.0


def worker_wait() -> float:
    """Seconds to wait for a remote scheduler's first worker (``BT_WORKER_WAIT``, default 60): a one-line
    ConfigError if the variable is not a number above 0."""
    text = os.environ.get(WAIT_VAR, "").strip()
    try:
        value = float(text) if text else WAIT_DEFAULT
    except ValueError:
        value = 0.0
    if not 0 < value < 10**9:  # NaN fails this too
        raise ConfigError(f"{WAIT_VAR} must be a number of seconds above 0; unset it for the default "
                          f"{WAIT_DEFAULT:g}. Got {text!r}.")  # fmt: skip
    return value


def wait_for_a_worker(client: Any, scheduler: str) -> None:
    """Return once the scheduler at ``scheduler`` has a worker; a one-line ConfigError after ``BT_WORKER_WAIT``
    seconds instead of waiting forever for work that nothing would run."""
    seconds = worker_wait()
    try:
        client.wait_for_workers(1, timeout=seconds)
    except TimeoutError:
        raise ConfigError(f"scheduler {scheduler} has no workers after {seconds:g} s: start one "
                          f"(dask worker {scheduler}) or set {WAIT_VAR} to wait longer") from None  # fmt: skip


def _quiet(level: int) -> None:
    """Dask's, Bokeh's and Tornado's loggers at ``level``, with those that set their own (distributed.client)."""
    names = [name for name in logging.root.manager.loggerDict if name.startswith(tuple(f"{q}." for q in QUIET))]
    for name in [*QUIET, *names]:
        logger = logging.getLogger(name)
        if name in QUIET or logger.level != logging.NOTSET:
            logger.setLevel(level)


def check_scheduler(scheduler: str, security: Any) -> None:
    """Connect to the scheduler at ``scheduler`` and let go: a one-line ConfigError now, before any work, if
    nothing answers there as a Dask scheduler, or it has no worker within ``BT_WORKER_WAIT`` seconds."""
    client = _connect(scheduler, security)
    try:
        wait_for_a_worker(client, scheduler)
    finally:
        client.close()


def lost_scheduler(client: Any, exc: BaseException) -> bool:
    """Whether ``exc``, raised while waiting for results, means the scheduler went away (not a task's error)."""
    return isinstance(exc, Exception) and client.status != "running"


@contextmanager
def dask_client(scheduler: str, workers: int | None, security: Any, notify: Callable[[str], None], *,
                preload_tensorflow: bool = False) -> Iterator[Any]:  # fmt: skip
    """A connected ``distributed.Client``: a new loopback LocalCluster (``scheduler="local"``) or the one at an address.

    ``preload_tensorflow`` imports TensorFlow in every worker as it starts (the client waits for it).
    """
    _quiet(logging.ERROR)
    if scheduler == "local":
        security = Security.temporary()  # a CA and keys for this cluster only, in memory (about 0.1 s)
        cluster = _local_cluster(workers, security)
        client = Client(cluster, security=security)
    else:
        cluster, client = None, _connect(scheduler, security)
    try:
        if cluster is None:
            wait_for_a_worker(client, scheduler)
        client.register_plugin(SetTensorflowThreads(preload_tensorflow))
        if client.dashboard_link:
            notify(f"Dask dashboard: {client.dashboard_link}")
        yield client
    except BaseException:
        _quiet(logging.CRITICAL)  # closing after a lost scheduler or a Ctrl-C: Dask's own tracebacks are noise
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
