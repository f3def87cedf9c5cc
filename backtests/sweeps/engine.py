"""Where sweep jobs run: the command's executor (``backtests.parallel``), each job one task.

The executor is the one of every ``bt`` command (``ExecutorSession``): a Dask ``LocalCluster`` of
worker processes on 127.0.0.1 only (default), an existing cluster (``--scheduler``), or this process
(``"sync"``: one job after another, for debugging and comparisons). Its Dask runner retries transient
errors, has a killed worker's job run again elsewhere, and turns a scheduler that goes away into
``SchedulerLostError`` (the jobs finished by then are recorded already, as each is handed over when
it completes). ``ExecutorSpec`` lives in ``backtests.parallel`` and is exported here too.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from forecasting.parallel import Task

from ..cache_key import CacheKey, cache_key
from ..config import RunConfig
from ..parallel import ExecutorSession, ExecutorSpec
from .job import run_job
from .spec import Job

__all__ = ["ExecutorSpec", "run_jobs"]

OnDone = Callable[[Job, dict[str, Any]], None]


def job_task(config: RunConfig, lean: bool, key: CacheKey, report: Callable[[Any], None]) -> dict[str, Any]:
    """One sweep job as an executor's task (``report`` unused: a job's progress is its completion)."""
    return run_job(config, lean, key)


def run_jobs(jobs: list[Job], executor: ExecutorSpec | ExecutorSession, *, lean: bool, on_done: OnDone,
             notify: Callable[[str], None], on_ready: Callable[[], None] = lambda: None,
             key: CacheKey | None = None) -> None:  # fmt: skip
    """Run ``jobs`` on ``executor``, calling ``on_done(job, outcome)`` as each completes, in any order.

    ``executor``: an open session (used, left open) or an ``ExecutorSpec`` (a session opened and closed
    here). ``on_ready`` is called once the executor is there (a cluster started or reached), before the
    first job. ``key`` (default: this user's) is the forecast cache's key, passed to every job so that
    workers sign and verify the cache's entries with it.
    """
    if not jobs:
        return
    key = key if key is not None else cache_key()
    with ExitStack() as stack:
        if isinstance(executor, ExecutorSpec):
            executor = stack.enter_context(ExecutorSession.of(executor, notify=notify))
        runner = executor.runner(len(jobs), spread=True, doing="jobs ran")
        on_ready()
        tasks = [Task(job_task, (job.config, lean, key), f"job-{job.job_id}") for job in jobs]
        runner.each(tasks, lambda position, outcome: on_done(jobs[position], outcome))
