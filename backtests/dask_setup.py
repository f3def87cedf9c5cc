"""Dask workers as this project wants them, and a connected client: shared by ``bt sweep`` and single runs.

The default cluster is a ``LocalCluster`` of worker processes on 127.0.0.1 only (scheduler, workers
and dashboard), one thread each, with a memory limit per worker. When a worker starts (or joins),
TensorFlow's and BLAS's thread pools are set to one thread and, where the work trains models,
TensorFlow is imported once, so no task pays for it. This module imports ``distributed``; the
light ``backtests.parallel`` imports it only when a cluster is needed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin

from .errors import ConfigError


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


@contextmanager
def dask_client(scheduler: str, workers: int | None, security: Any, notify: Callable[[str], None], *,
                preload_tensorflow: bool = False) -> Iterator[Any]:  # fmt: skip
    """A connected ``distributed.Client``: a new loopback LocalCluster (``scheduler="local"``) or the one at an address.

    ``preload_tensorflow`` imports TensorFlow in every worker as it starts (the client waits for it).
    """
    for name in ("distributed", "bokeh", "tornado"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address="127.0.0.1:0", memory_limit="auto",
                               silence_logs=logging.ERROR)  # fmt: skip
        client = Client(cluster)
    else:
        cluster = None
        try:
            client = Client(scheduler, security=security, timeout="5s")
        except (OSError, TimeoutError) as exc:
            why = " ".join(str(exc).split())[:160]
            raise ConfigError(f"scheduler {scheduler} cannot be reached ({type(exc).__name__}: {why}); "
                              "start it or check --scheduler") from None  # fmt: skip
    try:
        client.register_plugin(SetTensorflowThreads(preload_tensorflow))
        if client.dashboard_link:
            notify(f"Dask dashboard: {client.dashboard_link}")
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
