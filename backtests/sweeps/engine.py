"""Where sweep jobs run: a Dask ``LocalCluster`` (default), an existing cluster, or in-process.

Dask distributed is the engine (``backtests.dask_setup``, shared with single runs): the default is a
``LocalCluster`` of worker processes on 127.0.0.1 only (scheduler, workers and dashboard), one thread
each, with TensorFlow's thread pools set to one thread when a worker starts and a memory limit per
worker. A killed worker's job is run again elsewhere by the scheduler, and ``retries`` covers
transient errors; a scheduler that goes away ends the jobs in ``SchedulerLostError`` (the finished ones
are recorded already). ``"sync"`` runs the jobs one after another in the calling process (debugging,
comparisons). ``ExecutorSpec`` lives in ``backtests.parallel`` and is exported here too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..cache_key import CacheKey, cache_key
from ..dask_setup import SchedulerLostError, dask_client, lost_scheduler
from ..parallel import RETRIES, ExecutorSpec
from .job import run_job
from .spec import Job

__all__ = ["ExecutorSpec", "run_jobs"]

OnDone = Callable[[Job, dict[str, Any]], None]


def run_jobs(jobs: list[Job], spec: ExecutorSpec, *, lean: bool, on_done: OnDone,
             notify: Callable[[str], None], on_ready: Callable[[], None] = lambda: None,
             key: CacheKey | None = None) -> None:  # fmt: skip
    """Run ``jobs`` where ``spec`` says, calling ``on_done(job, outcome)`` as each completes, in any order.

    ``on_ready`` is called once the executor is there (a cluster started or reached), before the first job.
    ``key`` (default: this user's) is the forecast cache's key, passed to every job so that workers
    sign and verify the cache's entries with it.
    """
    if not jobs:
        return
    key = key if key is not None else cache_key()
    if spec.scheduler == "sync":
        on_ready()
        for job in jobs:
            on_done(job, run_job(job.config, lean, key))
        return
    from distributed import as_completed

    with dask_client(spec.scheduler, spec.workers, spec.security(), notify) as client:
        on_ready()
        futures = {client.submit(run_job, job.config, lean, key, key=f"bt-job-{job.job_id}", pure=False,
                                 retries=RETRIES): job for job in jobs}  # fmt: skip
        try:
            for future in as_completed(futures):
                on_done(futures[future], future.result())
        except BaseException as exc:
            if lost_scheduler(client, exc):
                raise SchedulerLostError(f"the Dask scheduler {spec.scheduler} went away while jobs ran "
                                         f"({type(exc).__name__}); start it again (or pass another --scheduler) "
                                         "and rerun") from None  # fmt: skip
            client.cancel(list(futures))
            raise
