"""Where sweep jobs run: a Dask ``LocalCluster`` (default), an existing cluster, or in-process.

Dask distributed is the engine: the default is a ``LocalCluster`` of worker processes on
127.0.0.1 only (scheduler, workers and dashboard), one thread each, with TensorFlow's thread
pools set to one thread when a worker starts and a memory limit per worker. A killed worker's
job is run again elsewhere by the scheduler, and ``retries`` covers transient errors.
``"sync"`` runs the jobs one after another in the calling process (debugging, comparisons).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from ..errors import ConfigError
from .job import run_job
from .spec import Job

OnDone = Callable[[Job, dict[str, Any]], None]
RETRIES = 2


@dataclass(frozen=True)
class ExecutorSpec:
    """Where to run: ``"local"`` (a new LocalCluster), ``"sync"``, or a scheduler address; TLS files if any."""

    scheduler: str = "local"
    workers: int | None = None
    tls_ca_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and not 1 <= self.workers <= 512:
            raise ConfigError(f"--workers must be from 1 to 512. Got {self.workers}.")
        tls = (self.tls_ca_file, self.tls_cert, self.tls_key)
        if any(tls) and not all(tls):
            raise ConfigError("TLS needs all of --tls-ca-file, --tls-cert and --tls-key.")
        if self.scheduler.startswith("tls://") and not all(tls):
            raise ConfigError(f"--scheduler {self.scheduler} needs --tls-ca-file, --tls-cert and --tls-key.")
        if self.scheduler not in ("local", "sync") and "://" not in self.scheduler:
            raise ConfigError(f"--scheduler must be sync, tcp://HOST:PORT or tls://HOST:PORT. Got {self.scheduler!r}.")

    def security(self) -> Any:
        """Dask's ``Security`` for TLS, or None."""
        if not self.tls_ca_file:
            return None
        from distributed.security import Security

        return Security(tls_ca_file=self.tls_ca_file, tls_client_cert=self.tls_cert, tls_client_key=self.tls_key,
                        require_encryption=True)  # fmt: skip


def one_thread_per_worker() -> None:
    """Run in each worker process when it starts: TensorFlow (read when it initialises) and BLAS get one thread.

    A worker is one core's worth of work; several threads per worker would only fight the
    other workers for the same cores.
    """
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"


class SetTensorflowThreads(WorkerPlugin):
    """A Dask worker plugin that sets TensorFlow's threads once, when each worker starts."""

    name = "bt-lstm-tensorflow-threads"

    def setup(self, worker: Any) -> None:
        one_thread_per_worker()


@contextmanager
def dask_client(spec: ExecutorSpec, notify: Callable[[str], None]) -> Iterator[Any]:
    """A connected ``distributed.Client``: a new loopback LocalCluster, or the cluster at ``spec.scheduler``."""
    import logging

    from distributed import Client, LocalCluster

    for name in ("distributed", "bokeh", "tornado"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if spec.scheduler == "local":
        workers = spec.workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", memory_limit="auto",
                               silence_logs=logging.ERROR)  # fmt: skip
        client = Client(cluster)
    else:
        cluster = None
        try:
            client = Client(spec.scheduler, security=spec.security(), timeout="5s")
        except (OSError, TimeoutError) as exc:
            why = " ".join(str(exc).split())[:160]
            raise ConfigError(f"scheduler {spec.scheduler} cannot be reached ({type(exc).__name__}: {why}); "
                              "start it or check --scheduler") from None  # fmt: skip
    try:
        client.register_plugin(SetTensorflowThreads())
        if client.dashboard_link:
            notify(f"Dask dashboard: {client.dashboard_link}")
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_jobs(jobs: list[Job], spec: ExecutorSpec, *, lean: bool, on_done: OnDone,
             notify: Callable[[str], None], on_ready: Callable[[], None] = lambda: None) -> None:  # fmt: skip
    """Run ``jobs`` where ``spec`` says, calling ``on_done(job, outcome)`` as each completes, in any order.

    ``on_ready`` is called once the executor is there (a cluster started or reached), before the first job.
    """
    if not jobs:
        return
    if spec.scheduler == "sync":
        on_ready()
        for job in jobs:
            on_done(job, run_job(job.config, lean))
        return
    from distributed import as_completed

    with dask_client(spec, notify) as client:
        on_ready()
        futures = {client.submit(run_job, job.config, lean, key=f"bt-job-{job.job_id}", pure=False,
                                 retries=RETRIES): job for job in jobs}  # fmt: skip
        try:
            for future in as_completed(futures):
                on_done(futures[future], future.result())
        except BaseException:
            client.cancel(list(futures))
            raise
