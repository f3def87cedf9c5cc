"""The drawing process: one process, forked when a command starts, that draws its report pages.

A run's quantstats tearsheet takes seconds to draw, and importing what draws it (matplotlib,
seaborn, scipy.stats, quantstats) about another second. A process forked at the start imports all
that while the command computes, then draws what it is sent (``ExecutorSession.draw``), beside the
command's own work. ``bt`` forks it first thing, before its own imports (``start_early``), for the
commands that draw a page in it; a command's ``ExecutorSession`` adopts that process (``take_early``)
or forks one then (``start``). Standard library only, so that ``bt`` can start it before anything else.
"""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # multiprocessing is imported when a process is forked: ``bt --help`` does without
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.process import BaseProcess

DRAWING_COMMANDS = ("run", "report")  # the ``bt`` commands that draw in a drawing process
_early: list[tuple[ProcessPoolExecutor, list[BaseProcess]]] = []  # the pool, its process


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


def start(preload: Callable[[], None]) -> ProcessPoolExecutor:
    """A drawing process, forked now, that runs ``preload`` (the imports drawing needs) first."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"), initializer=_started,
                               initargs=(os.getpid(),))  # fmt: skip
    pool.submit(preload)
    return pool


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
        import multiprocessing

        before = set(multiprocessing.active_children())
        pool = start(_prepare)
        _early.append((pool, [p for p in multiprocessing.active_children() if p not in before]))


def take_early(preload: Callable[[], None]) -> ProcessPoolExecutor | None:
    """The drawing process ``start_early`` forked, if it preloads what ``preload`` does; handed over once
    (then it is the taker's to shut down)."""
    if not _early or f"{preload.__module__}.{preload.__qualname__}" != EARLY_PRELOAD:
        return None
    return _early.pop()[0]


def stop_early() -> None:
    """Stop a drawing process that nothing took (the command failed first, or drew elsewhere) at once."""
    while _early:
        pool, processes = _early.pop()
        for process in processes:
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
