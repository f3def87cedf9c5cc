"""Where one ``bt`` command runs its independent pieces: workers started once, reused to the end.

The one executor of ``bt``: every piece of work that can run side by side is a ``Task`` run by a
``forecasting.parallel.TaskRunner`` (``run``: results in order; ``each``: each result as it completes),
``InProcess`` or ``DaskRunner``: a run's ensemble members, folds and baselines, sweep jobs
(``sweeps.engine``), a portfolio's forecasts (their tables come back to the client) and its comparison
backtests. ``ExecutorSession`` gives each job a runner: this process
when nothing is gained (``--scheduler sync``, or a job of one piece: a single warm-started
model, or forecasts all in the cache), else Dask. By default that is a loopback
``LocalCluster`` started by the first job that needs it, one worker per core but no more
than the job's pieces (``--workers N`` caps it; fewer than two means this process);
``--scheduler local`` is a cluster of ``--workers`` (default: one per core) for any job of
two pieces or more; ``--scheduler tcp://HOST:PORT`` a running cluster. Workers run one
thread each and import TensorFlow once, when they start (``backtests.dask_setup``). Report
pages are drawn in another process (``draw``): the drawing process (``backtests.drawing``:
forked when ``bt`` starts, or when the session opens), which imports matplotlib and quantstats
while the command computes. Nothing here imports Dask until a cluster is needed.
"""

from __future__ import annotations

import functools
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from forecasting.parallel import InProcess, OnResult, Report, Task, TaskRunner

from . import drawing
from .errors import ConfigError
from .scheduler_probe import probe_scheduler, split_address

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
        if self.scheduler not in ("local", "sync"):
            split_address(self.scheduler)  # tcp:// or tls://, HOST:PORT: a one-line ConfigError otherwise
        if self.scheduler.startswith("tls://") and not all(tls):
            raise ConfigError(f"--scheduler {self.scheduler} needs --tls-ca-file, --tls-cert and --tls-key.")

    def security(self) -> Any:
        """Dask's ``Security`` for TLS files, or None (the local cluster makes its own: ``dask_setup``)."""
        if not self.tls_ca_file:
            return None
        from distributed.security import Security

        return Security(tls_ca_file=self.tls_ca_file, tls_client_cert=self.tls_cert, tls_client_key=self.tls_key,
                        require_encryption=True)  # fmt: skip


    def check_reachable(self) -> None:
        """For a scheduler address: ConfigError in seconds unless a Dask scheduler answers there (before any work).

        Probed with a plain socket first (``scheduler_probe``), then connected to and let go: only then is
        Dask imported."""
        if self.scheduler in ("local", "sync"):
            return
        security = self.security()
        probe_scheduler(self.scheduler, security.get_connection_args("client")["ssl_context"] if security else None)
        from .dask_setup import check_scheduler

        check_scheduler(self.scheduler, security)


class Pending(Protocol):
    """A result being computed elsewhere (a ``concurrent.futures`` or Dask future)."""

    def result(self) -> Any: ...


def _ignore(message: Any) -> None:
    pass


def log_progress(topic: str, message: Any) -> None:
    """On a Dask worker: send ``message`` to the client subscribed to ``topic``."""
    from distributed import get_worker

    get_worker().log_event(topic, message)


def call_task(fn: Callable[..., Any], args: tuple[Any, ...], topic: str | None) -> Any:
    """On a Dask worker: ``fn(*args, report)``, the reports going to ``topic``."""
    return fn(*args, functools.partial(log_progress, topic) if topic else _ignore)


class DaskRunner:
    """Runs tasks on a Dask cluster: results in task order (``run``) or as each completes (``each``); progress
    reports as Dask events. A task is retried ``RETRIES`` times and a killed worker's task is run again
    elsewhere (by the scheduler); a scheduler that goes away is ``SchedulerLostError`` (the results already
    handed to ``each``'s caller are kept); any other error or Ctrl-C cancels the tasks not yet done."""

    def __init__(self, client: Any, address: str = "", doing: str = "the run's pieces were computed") -> None:
        self.client, self.address, self.doing = client, address, doing

    @property
    def workers(self) -> int:
        """The cluster's threads: the tasks it runs at once."""
        return max(1, sum(self.client.nthreads().values()))

    def run(self, tasks: Sequence[Task], on_report: Report | None = None) -> list[Any]:
        """Each task's result, in the order of ``tasks``; cancelled all together on the first error."""
        with self._submitted(tasks, on_report) as futures:
            return list(self.client.gather(futures))

    def each(self, tasks: Sequence[Task], on_result: OnResult, on_report: Report | None = None) -> None:
        """Run ``tasks``, calling ``on_result(position, result)`` in this thread as each completes."""
        from distributed import as_completed

        with self._submitted(tasks, on_report) as futures:
            position = {future.key: i for i, future in enumerate(futures)}
            for future in as_completed(futures):
                on_result(position[future.key], future.result())

    @contextmanager
    def _submitted(self, tasks: Sequence[Task], on_report: Report | None) -> Iterator[list[Any]]:
        """The tasks' futures; on leaving with an error, a lost scheduler becomes one line, the rest cancelled."""
        token = uuid.uuid4().hex[:12]
        topic = f"bt-lstm-progress-{token}" if on_report is not None else None
        if topic is not None and on_report is not None:
            self.client.subscribe_topic(topic, lambda event: on_report(event[1]))
        futures = [self.client.submit(call_task, task.fn, task.args, topic, key=f"bt-{task.name}-{token}",
                                      pure=False, retries=RETRIES) for task in tasks]  # fmt: skip
        try:
            yield futures
        except BaseException as exc:
            from .dask_setup import SchedulerLostError, lost_scheduler

            if lost_scheduler(self.client, exc):
                raise SchedulerLostError(f"the Dask scheduler {self.address} went away while {self.doing} "
                                         f"({type(exc).__name__}); start it again (or pass another --scheduler) "
                                         "and rerun") from None  # fmt: skip
            self.client.cancel(futures)
            raise
        finally:
            if topic is not None:
                self.client.unsubscribe_topic(topic)


def _close_catching(stack: ExitStack, errors: list[BaseException]) -> None:
    try:
        stack.close()
    except BaseException as exc:  # noqa: BLE001 - raised again by ``_joined`` when the session closes
        errors.append(exc)


def _joined(thread: threading.Thread, errors: list[BaseException]) -> None:
    thread.join()
    if errors:
        raise errors[0]


class _Done:
    """A result computed in this process."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class ExecutorSession:
    """The executor of one command: see the module's docstring. Use it as a context manager."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 tls: tuple[str | None, str | None, str | None] = (None, None, None), *,
                 notify: Callable[[str], None] | None = None,
                 preload: Callable[[], None] | None = None, preload_tensorflow: bool = True) -> None:  # fmt: skip
        self.spec = ExecutorSpec(scheduler or "local", workers, *tls)
        self.auto = scheduler is None
        self.notify = notify or _ignore
        self.preload = preload
        self.preload_tensorflow = preload_tensorflow
        self._stack = ExitStack()
        self._client: Any = None
        self._pool: ProcessPoolExecutor | None = None

    @classmethod
    def of(cls, spec: ExecutorSpec, *, notify: Callable[[str], None] | None = None,
           preload_tensorflow: bool = False) -> ExecutorSession:  # fmt: skip
        """A session for ``spec`` (``bt sweep``'s and the portfolio's ``--scheduler``/``--workers``), without a
        drawing process; workers import TensorFlow only when they first need it unless ``preload_tensorflow``."""
        tls = (spec.tls_ca_file, spec.tls_cert, spec.tls_key)
        return cls(spec.scheduler, spec.workers, tls, notify=notify, preload_tensorflow=preload_tensorflow)

    def __enter__(self) -> ExecutorSession:
        self.spec.check_reachable()  # a wrong --scheduler is one line at once, not after the data is read
        if self.preload is not None and self.spec.scheduler != "sync" and drawing.can_fork():
            # The process ``bt`` forked first thing, or one forked now, before the command's heavy imports.
            self._pool = drawing.take_early(self.preload) or drawing.start(self.preload)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close(*exc)

    def close(self, *exc: Any) -> None:
        """Stop the drawing process and the cluster (or disconnect from it); ``exc``, the exception the session
        ends in, if any (a lost scheduler or Ctrl-C: Dask's own logs while closing are silenced)."""
        self._stop_pool()
        stack, self._stack, self._client = self._stack, ExitStack(), None
        stack.__exit__(*(exc or (None, None, None)))

    def release_workers(self) -> None:
        """The command needs its workers no more: the cluster (or the connection) is stopped in the background
        while the command writes its report, and ``close`` waits for that; a later job starts another."""
        if self._client is None:
            return
        stack, self._stack, self._client = self._stack, ExitStack(), None
        errors: list[BaseException] = []
        stopping = threading.Thread(target=_close_catching, args=(stack, errors), name="bt-release-workers")
        stopping.start()
        self._stack.callback(_joined, stopping, errors)

    def _stop_pool(self) -> None:
        if self._pool is not None:
            # Waited for (the process is idle by then, or ends its page): Python 3.11's executor can
            # fail at interpreter exit on the pipe of one shut down without waiting.
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def cluster_size(self, units: int, *, spread: bool = False) -> int:
        """Workers for a job of ``units`` pieces that could run side by side; 0 means this process.

        ``spread``: even a job of one piece goes to the cluster that was asked for (``--scheduler``, or
        ``--workers`` of a sweep), so that it runs where its data and cache are meant to be."""
        if self.spec.scheduler == "sync" or units < 1 or (units < 2 and (self.auto or not spread)):
            return 0
        workers = self.spec.workers or os.cpu_count() or 1
        if self.auto:
            workers = min(workers, units)
        return workers if workers >= 2 or not self.auto else 0

    def runner(self, units: int, *, spread: bool = False, start: bool = True,
               doing: str = "the run's pieces were computed") -> TaskRunner:  # fmt: skip
        """A runner for a job of ``units`` pieces: Dask (started now if not yet, then reused), or this process.

        ``start=False``: a job too short to pay for starting a cluster of its own runs here unless a cluster
        was asked for (``--scheduler``, ``--workers``) or is up already. ``doing`` ends the sentence of the
        error a lost scheduler gives (``the Dask scheduler ... went away while ...``)."""
        if self._client is None:
            workers = self.cluster_size(units, spread=spread)
            if not workers or (self.auto and self.spec.workers is None and not start):
                return InProcess()
            from .dask_setup import dask_client

            self._client = self._stack.enter_context(dask_client(
                self.spec.scheduler, workers, self.spec.security(), self.notify,
                preload_tensorflow=self.preload_tensorflow))  # fmt: skip
        elif units < 1 or (units < 2 and (self.auto or not spread)):
            return InProcess()
        return DaskRunner(self._client, self.spec.scheduler, doing)

    def draw(self, fn: Callable[..., Any], *args: Any) -> Pending:
        """``fn(*args)`` started elsewhere: in the drawing process, which has the plotting stack imported
        already, within its memory and time limits (``drawing.Drawing``: a page past them is a notice and
        ``PageNotDrawn``); without one (``--scheduler sync``, no fork) on the cluster if it is up, else here."""
        if self._pool is not None:
            return drawing.Drawing(self._pool, fn, args, self.notify)
        if self._client is not None:
            return self._client.submit(fn, *args, pure=False)
        return _Done(fn(*args))
