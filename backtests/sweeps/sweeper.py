"""``sweep``: many runs of the same pure ``run``, streamed into a sweep folder, ending in a verdict.

The library call behind ``bt sweep``. It opens (or resumes) the folder, runs the jobs that
have no result yet where the executor says, records each as it completes (in any order),
and builds ``sweep.html`` from the saved files at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import RunConfig
from ..dask_setup import SchedulerLostError
from ..parallel import ExecutorSession
from .engine import ExecutorSpec, run_jobs
from .folder import SweepFolder
from .spec import Grid, Job, job_id

Notify = Callable[[str], None]
OnProgress = Callable[["Progress"], None]


@dataclass(frozen=True)
class Progress:
    """Where a sweep stands: jobs done (this time and before), failed, pending, and seconds elapsed."""

    total: int
    done: int
    failed: int
    running: int
    elapsed: float


@dataclass(frozen=True)
class SweepResult:
    """What a sweep left in its folder: the results and failures tables, and how many jobs ran this time."""

    folder: Path
    results: pd.DataFrame
    failures: pd.DataFrame
    computed: int
    reused: int
    page: Path | None
    headline: str | None


def as_jobs(configs: Sequence[RunConfig | Job]) -> list[Job]:
    """Jobs from configs (ids from the configs themselves); jobs are kept as they are."""
    jobs = []
    for i, item in enumerate(configs):
        if isinstance(item, Job):
            jobs.append(item)
        else:
            jobs.append(Job(i, job_id(item), item.data.ticker, (), item))
    return jobs


def sweep(
    configs: Sequence[RunConfig | Job],
    *,
    out: Path | str,
    executor: ExecutorSpec | ExecutorSession | str = "local",
    grid: Grid = (),
    universe: dict[str, Any] | None = None,
    lean: bool = False,
    notify: Notify | None = None,
    on_progress: OnProgress | None = None,
) -> SweepResult:
    """Run every config (a ``RunConfig`` or a ``Job``) that ``out`` has no result for; return the tables.

    ``executor``: ``"local"`` (a loopback ``LocalCluster``, one worker per core), ``"sync"``,
    a scheduler address, an ``ExecutorSpec`` (workers, TLS), or the command's open ``ExecutorSession``.
    """
    spec = executor if isinstance(executor, ExecutorSpec | ExecutorSession) else ExecutorSpec(scheduler=executor)
    workers = spec.spec.workers if isinstance(spec, ExecutorSession) else spec.workers
    jobs = as_jobs(configs)
    strategy = jobs[0].config.strategy.name if jobs else ""
    folder = SweepFolder(Path(out), jobs, grid, strategy, universe).open()
    pending, reused = folder.pending(), len(folder.rows)
    say = notify or (lambda _: None)
    began, state = time.perf_counter(), {"done": 0, "failed": 0}

    def report() -> None:
        if on_progress is not None:
            finished = state["done"] + state["failed"]
            running = max(0, min(len(pending) - finished, workers or len(pending)))
            on_progress(Progress(len(pending), state["done"], state["failed"], running, time.perf_counter() - began))

    def on_done(job: Job, outcome: dict[str, Any]) -> None:
        folder.record(job, outcome)
        state["done" if outcome.get("ok") else "failed"] += 1
        report()

    try:
        run_jobs(pending, spec, lean=lean, on_done=on_done, notify=say, on_ready=report)
    except SchedulerLostError as exc:
        raise SchedulerLostError(f"{exc} the same command: {len(folder.rows)} of {len(jobs)} jobs have results, "
                                 f"saved in {folder.path}, and only the rest are computed") from None  # fmt: skip
    folder.write_results()
    page, headline = _verdict(folder)
    failures = pd.read_csv(folder.path / "failures.csv") if (folder.path / "failures.csv").exists() else None
    return SweepResult(folder.path, folder.results(), failures if failures is not None else pd.DataFrame(),
                       state["done"] + state["failed"], reused, page, headline)  # fmt: skip


def _verdict(folder: SweepFolder) -> tuple[Path | None, str | None]:
    """sweep.html and its headline, once there are results."""
    if not folder.rows:
        return None, None
    from reports.sweep_page import write_sweep_page

    return write_sweep_page(folder.path)
