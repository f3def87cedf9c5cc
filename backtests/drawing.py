"""The drawing process: one process, forked when a command starts, that draws its report pages.

A run's quantstats tearsheet takes seconds to draw, and importing what draws it (matplotlib,
seaborn, scipy.stats, quantstats) about another second. A process forked at the start imports all
that while the command computes, then draws what it is sent (``ExecutorSession.draw``), beside the
command's own work. ``bt`` forks it first thing, before its own imports (``start_early``), for the
commands that draw a page in it; a command's ``ExecutorSession`` adopts that process (``take_early``)
or forks one then (``start``). Standard library only, so that ``bt`` can start it before anything else.

Each page is drawn within limits of memory and time (``drawing_limits``); one that is not drawn is a
``PageNotDrawn`` and one notice, and the command writes everything else.
"""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from reports.undrawn import PageNotDrawn

from .drawing_limits import SECONDS_VAR, cap_memory, limits, within_limits
from .errors import ConfigError

if TYPE_CHECKING:  # multiprocessing is imported when a process is forked: ``bt --help`` does without
    from concurrent.futures import Future, ProcessPoolExecutor
    from multiprocessing.process import BaseProcess

DRAWING_COMMANDS = ("run", "report")  # the ``bt`` commands that draw in a drawing process
GRACE_SECONDS = 15.0  # past its time limit, how long a page has before the command ends its process
PAGES = {"tearsheet_html": "the quantstats tearsheet"}  # what a notice calls a page, by its function
_early: list[ProcessPoolExecutor] = []  # the pool forked first
_processes: dict[int, list[BaseProcess]] = {}  # each pool's process, by id() of the pool
_imports: dict[int, tuple[Future[None], list[float]]] = {}  # each pool's imports, and when they were done


def fewer_collections() -> None:
    """Run the cyclic garbage collector a seventieth as often: importing the plotting stack and drawing
    a tearsheet make millions of objects, few of them garbage, and the collections that walk them
    cost a sixth of the time; a short-lived command's memory grows by a few megabytes instead."""
    gc.set_threshold(50_000, 20, 100)


def can_fork() -> bool:
    """Whether this platform forks (a drawing process is forked; elsewhere pages are drawn in the command)."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _end_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


def _started(parent: int) -> None:
    """In the drawing process: Ctrl-C is the parent's to handle (it stops this process); fewer collections;
    and it ends when the command's process does, even one killed, rather than wait for work forever."""
    if os.getppid() != parent:  # the command ended before this process began
        os._exit(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fewer_collections()
    threading.Thread(target=_end_with, args=(parent,), name="bt-drawing-parent", daemon=True).start()


def _preloaded(preload: Callable[[], None]) -> None:
    """In the drawing process: the imports, then the cap on its memory (``drawing_limits.cap_memory``)."""
    try:
        preload()
    finally:
        cap_memory()


def start(preload: Callable[[], None]) -> ProcessPoolExecutor:
    """A drawing process, forked now, that runs ``preload`` (the imports drawing needs) first; malformed
    limits are a one-line ConfigError first."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    limits()
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"), initializer=_started,
                               initargs=(os.getpid(),))  # fmt: skip
    imported: list[float] = []
    preloading = pool.submit(_preloaded, preload)
    preloading.add_done_callback(lambda _: imported.append(time.monotonic()))
    _processes[id(pool)] = [p for p in multiprocessing.active_children() if p not in before]
    _imports[id(pool)] = (preloading, imported)
    return pool


class Drawing:
    """A page being drawn in the drawing process ``pool``; ``result`` is its text, or ``PageNotDrawn``,
    said once through ``notify``, when it failed within its limits. A page past its time limit by
    GRACE_SECONDS (stuck where its alarm cannot reach) has its process ended by the command."""

    def __init__(self, pool: ProcessPoolExecutor, fn: Callable[..., Any], args: tuple[Any, ...],
                 notify: Callable[[str], None]) -> None:  # fmt: skip
        self.pool, self.notify, self.submitted = pool, notify, time.monotonic()
        self.future = pool.submit(within_limits, fn, *args)
        self.what = PAGES.get(getattr(fn, "__name__", ""), "a page")

    def result(self) -> Any:
        """The page's text; ``PageNotDrawn`` if it was not drawn."""
        try:
            return self._wait()
        except PageNotDrawn as error:
            self.notify(f"{self.what} was not drawn: {error}; the rest of the run folder is written, and "
                        "`bt report RUN_FOLDER` draws it again (raise the limit if need be)")  # fmt: skip
            raise

    def _wait(self) -> Any:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures import TimeoutError as Late
        from concurrent.futures.process import BrokenProcessPool

        limit = limits()
        if id(self.pool) in _imports:  # the page waits for the imports: that is not its time
            preloading, imported = _imports[id(self.pool)]
            wait([preloading, self.future], return_when=FIRST_COMPLETED)
            self.submitted = max(self.submitted, imported[0] if imported else time.monotonic())
        began = self.submitted
        try:
            return self.future.result(timeout=max(0.0, began + limit.seconds + GRACE_SECONDS - time.monotonic()))
        except Late:
            for process in _processes.get(id(self.pool), []):
                process.kill()
            raise PageNotDrawn(f"it took longer than {limit.seconds:g} s ({SECONDS_VAR}); its drawing "
                               "process was ended") from None  # fmt: skip
        except BrokenProcessPool:
            raise PageNotDrawn(f"the drawing process ended under it (killed, or out of memory; the limits: "
                               f"{limit.words()})") from None  # fmt: skip


def _prepare() -> None:
    from reports.tearsheet import prepare_drawing_process

    prepare_drawing_process()


EARLY_PRELOAD = "reports.tearsheet.prepare_drawing_process"  # what the process forked first imports


def draws(args: Sequence[str]) -> bool:
    """Whether ``bt ARGS`` will draw in a drawing process, judged from its words before they are parsed.

    ``bt run`` and ``bt report`` do, unless asked for help or ``--scheduler sync``. A wrong guess costs
    little: a process that imports the plotting stack for nothing, or one forked later, as without this.
    """
    if not args or args[0] not in DRAWING_COMMANDS or "--help" in args or "-h" in args:
        return False
    pairs = zip(args, [*args[1:], ""], strict=True)
    return not any(arg == "--scheduler=sync" or (arg, value) == ("--scheduler", "sync") for arg, value in pairs)


def start_early(args: Sequence[str]) -> None:
    """Fork the drawing process now if ``bt ARGS`` will draw in one: before ``bt`` imports anything else,
    so its imports and the command's run side by side from the first moment."""
    if draws(args) and can_fork():
        try:
            _early.append(start(_prepare))
        except ConfigError:  # malformed limits: the command's session says so, in one line
            return


def take_early(preload: Callable[[], None]) -> ProcessPoolExecutor | None:
    """The drawing process ``start_early`` forked, if it preloads what ``preload`` does; handed over once
    (then it is the taker's to shut down)."""
    if not _early or f"{preload.__module__}.{preload.__qualname__}" != EARLY_PRELOAD:
        return None
    return _early.pop()


def stop_early() -> None:
    """Stop a drawing process that nothing took (the command failed first, or drew elsewhere) at once."""
    while _early:
        pool = _early.pop()
        for process in _processes.get(id(pool), []):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
