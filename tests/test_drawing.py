"""The drawing process: forked first thing for the commands that draw in one, adopted by their session,
and never outliving the command (even one that ends without shutting it down)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backtests import drawing
from backtests.parallel import ExecutorSession
from reports.tearsheet import prepare_drawing_process


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "lstm-strategy", "AAPL"], True),
        (["run", "topk-strategy", "--universe", "dow30"], True),
        (["report", "runs/x"], True),
        (["run", "lstm-strategy", "AAPL", "--scheduler", "tcp://127.0.0.1:8786"], True),
        (["run", "lstm-strategy", "AAPL", "--scheduler", "sync"], False),
        (["run", "--scheduler=sync", "lstm-strategy"], False),
        (["run", "--help"], False),
        (["report", "-h"], False),
        (["walk-forward", "AAPL"], False),
        (["sweep", "--tickers", "AAPL"], False),
        ([], False),
    ],
)
def test_which_commands_fork_a_drawing_process_first(args: list[str], expected: bool) -> None:
    assert drawing.draws(args) is expected


def test_the_session_adopts_the_process_forked_first() -> None:
    drawing.start_early(["run", "lstm-strategy", "AAPL"])
    try:
        with ExecutorSession(preload=prepare_drawing_process) as session:
            assert drawing.take_early(prepare_drawing_process) is None  # the session took it
            assert session.draw(os.getpid).result() != os.getpid()
    finally:
        drawing.stop_early()
    drawing.start_early(["run", "lstm-strategy", "AAPL", "--scheduler", "sync"])
    assert drawing.take_early(prepare_drawing_process) is None  # nothing forked for a command that draws here


_STOPPED = """
import multiprocessing
import multiprocessing.connection
import time
from backtests import drawing
from reports.tearsheet import prepare_drawing_process
drawing.start_early(["report", "runs/x"])
(forked,) = multiprocessing.active_children()
assert drawing.take_early(print) is None  # forked to preload something else: not handed over
drawing.stop_early()
# The pool's own thread reaps its process too: whichever waits second sees no child for a moment, so the
# exit status is read until one of them has recorded it (a bounded wait that only a live process exhausts).
multiprocessing.connection.wait([forked.sentinel], timeout=120)
for _ in range(1200):
    if forked.exitcode is not None:
        break
    time.sleep(0.1)
assert drawing.take_early(prepare_drawing_process) is None
print(forked.exitcode, flush=True)
"""


def test_a_process_nothing_took_is_stopped_at_once() -> None:
    # In a fresh interpreter: forking this (threaded) test process could leave the child deadlocked on a
    # lock some thread held, which reads as a process that was never stopped (issue 19).
    done = subprocess.run([sys.executable, "-c", _STOPPED], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(-signal.SIGTERM)]  # terminated, not left to end its imports first


_ORPHAN = """
import os
from backtests import drawing
pool = drawing.start(int)  # a trivial preload
print(pool.submit(os.getpid).result(), flush=True)
os._exit(0)  # ends without shutting the pool down, as a killed command would
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie waiting for init to reap it has ended


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_the_drawing_process_ends_with_the_command() -> None:
    done = subprocess.run([sys.executable, "-c", _ORPHAN], capture_output=True, text=True, timeout=60, check=True)
    pid = int(done.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)
