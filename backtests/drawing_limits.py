"""The drawing process's limits: whatever the returns, one page cannot take the machine.

Once its plotting stack is imported, the drawing process may grow by ``BT_DRAW_MEMORY_MB`` (default
4096 MiB) of address space (``RLIMIT_AS``: an allocation past it fails, the page ends in
``MemoryError``), and a page may take ``BT_DRAW_SECONDS`` (default 300 s: an alarm ends it). Either
is a ``reports.undrawn.PageNotDrawn`` that says which limit and how to raise it. A page stuck where
neither reaches (C code that holds the interpreter and retries a failed allocation) is ended by the
command from outside (``backtests.drawing.Drawing``). Standard library only, like ``drawing``.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reports.undrawn import PageNotDrawn

from .errors import ConfigError

MEMORY_VAR, SECONDS_VAR = "BT_DRAW_MEMORY_MB", "BT_DRAW_SECONDS"


@dataclass(frozen=True)
class Limits:
    """What one page may take in the drawing process: address space beyond its imports, and seconds."""

    memory_mb: int = 4096
    seconds: float = 300.0

    def words(self) -> str:
        """The limits as a notice states them."""
        return f"{self.memory_mb} MiB ({MEMORY_VAR}), {self.seconds:g} s ({SECONDS_VAR})"


def _env_number(name: str, default: float, kind: type) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if not 0 < value < 10**9:  # NaN fails this too
        raise ConfigError(f"{name} must be a {'whole ' if kind is int else ''}number above 0 (a limit of the "
                          f"drawing process); unset it for the default {default:g}. Got {text!r}.")  # fmt: skip
    return value


def limits() -> Limits:
    """The limits set by ``BT_DRAW_MEMORY_MB`` and ``BT_DRAW_SECONDS`` (a one-line ConfigError if malformed)."""
    return Limits(int(_env_number(MEMORY_VAR, Limits.memory_mb, int)), _env_number(SECONDS_VAR, Limits.seconds, float))


def _warmed_up() -> None:
    """What a page loads on first use, loaded before the cap: pyplot's backend (a shared library whose
    loading would fail past it) and one BLAS thread with its buffer (OpenBLAS takes a buffer per thread
    on first use and, when that allocation fails, retries for minutes, holding the interpreter)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(pyplot.figure())
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # no threadpoolctl: BLAS keeps its threads; the outside time limit still holds
        pass
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.ones((4, 4)) @ numpy.ones((4, 4))
    linalg = sys.modules.get("scipy.linalg")
    if linalg is not None:  # scipy has an OpenBLAS of its own
        linalg.cholesky(numpy.eye(4) if numpy is not None else [[1.0]])


def cap_memory() -> None:
    """In the drawing process, once its libraries are imported: its address space capped at its size now
    plus the limit (a cap set before the imports would count their reservations, which grow with cores)."""
    import resource

    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        extra = limits().memory_mb << 20
    except (ConfigError, OSError, ValueError):  # no /proc: no cap; bad limits: the command refuses them
        return
    _warmed_up()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + extra if soft == resource.RLIM_INFINITY else min(soft, size + extra)
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))


def _out_of_time(signum: int, frame: object) -> None:
    raise PageNotDrawn(f"it took longer than {limits().seconds:g} s ({SECONDS_VAR})")


def within_limits(fn: Callable[..., Any], *args: Any) -> Any:
    """In the drawing process: ``fn(*args)``, ended by an alarm after ``BT_DRAW_SECONDS``; running out of
    its memory, or any other failure (past the cap, a library may fail to load), is a ``PageNotDrawn``
    that says what failed, so the command writes everything else."""
    limit = limits()
    previous = signal.signal(signal.SIGALRM, _out_of_time)
    signal.setitimer(signal.ITIMER_REAL, limit.seconds)
    try:
        return fn(*args)
    except PageNotDrawn:
        raise
    except MemoryError:
        raise PageNotDrawn(f"it needed more memory than {MEMORY_VAR} allows ({limit.memory_mb} MiB more than "
                           "the plotting libraries)") from None  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - past the memory cap anything can fail (a library not loaded)
        why = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        raise PageNotDrawn(f"drawing it failed ({why}); the limits: {limit.words()}") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
