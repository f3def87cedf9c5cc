"""Walk-forwards cut into independent tasks: ensemble members side by side, folds apart without warm start.

A ``TaskRunner`` runs ``Task``s, possibly in other processes, and returns their results in task
order (``InProcess`` here; ``backtests.parallel`` runs them on Dask). A member whose folds continue
from each other (warm start) is one task that fits them in order. A model whose every fit starts
afresh (``independent_fits()``, such as the LSTM without warm start) has its folds cut into chunks,
each started at its own fit number (``start_at_fit``) so its shuffle order is the sequential run's.
Tasks take plain inputs and return plain floats, and the results are put together in member and
fold order by ``walk_forward``'s own table code: the forecasts are byte-identical to
``walk_forward``'s, whatever runs the tasks and in whatever order they finish.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np
import pandas as pd

from .base import Forecaster
from .splitter import Fold, WalkForwardSplitter
from .walkforward import (
    FoldCallback,
    WalkForwardResult,
    assemble,
    fit_info,
    fold_forecasts,
    fold_row,
    fresh,
    fresh_members,
    predict_members,
    summarise_fits,
    train_arrays,
)

Report = Callable[[Any], None]
OnResult = Callable[[int, Any], None]  # (the task's position in the batch, its result)
FoldOutput = tuple[dict[str, float], list[float]]  # one member's fit info and forecasts for one fold


@dataclass(frozen=True)
class Task:
    """A call ``fn(*args, report)``; ``report(message)`` tells the caller how the task is going."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    name: str


class TaskRunner(Protocol):
    """Runs tasks (in this process or others): all results in task order (``run``), or each as it completes
    (``each``). The one executor protocol of ``bt``: this process (``InProcess``) or Dask
    (``backtests.parallel.DaskRunner``) run walk-forward pieces, sweep jobs, a portfolio's forecasts and
    its comparison backtests alike."""

    @property
    def workers(self) -> int:
        """How many tasks it runs at once."""
        ...

    def run(self, tasks: Sequence[Task], on_report: Report | None = None) -> list[Any]:
        """Each task's result, in the order of ``tasks``; tasks' reports reach ``on_report``."""
        ...

    def each(self, tasks: Sequence[Task], on_result: OnResult, on_report: Report | None = None) -> None:
        """Run ``tasks``, calling ``on_result(position, result)`` as each completes, in any order."""
        ...


def _ignore(message: Any) -> None:
    pass


class InProcess:
    """Runs the tasks one after another in this process: the reference every other runner must match."""

    workers = 1

    def run(self, tasks: Sequence[Task], on_report: Report | None = None) -> list[Any]:
        """Each task's result, in order."""
        return [task.fn(*task.args, on_report or _ignore) for task in tasks]

    def each(self, tasks: Sequence[Task], on_result: OnResult, on_report: Report | None = None) -> None:
        """Each task in order, ``on_result`` called after each."""
        for position, task in enumerate(tasks):
            on_result(position, task.fn(*task.args, on_report or _ignore))


@runtime_checkable
class FoldIndependent(Protocol):
    """A forecaster that can say its fits start afresh, and start at any fit of a walk-forward."""

    def independent_fits(self) -> bool: ...

    def start_at_fit(self, number: int) -> Any: ...


def fit_member(member: Forecaster, plan: int, index: int, values: np.ndarray, folds: Sequence[Fold],
               lookback: int, report: Report) -> list[FoldOutput]:  # fmt: skip
    """Fit a fresh copy of ``member`` on ``folds`` in order and forecast each fold's days (a task).

    A chunk that starts after the first fold starts at that fold's fit number; ``report`` gets
    ``(plan, index, fold number)`` after each fold.
    """
    model = fresh(member)
    if folds[0].number:
        cast(FoldIndependent, model).start_at_fit(folds[0].number)
    outputs: list[FoldOutput] = []
    for fold in folds:
        began = time.perf_counter()
        x, y = train_arrays(values, fold, lookback)
        info = {**fit_info(model.fit(x, y)), "n_train": len(x), "seconds": time.perf_counter() - began}
        targets = np.arange(fold.test_start, fold.test_end + 1)
        outputs.append((info, predict_members([model], values, targets - 1, lookback)[0].tolist()))
        report((plan, index, fold.number))
    return outputs


def chunks_per_member(members: int, folds: int, workers: int) -> int:
    """Fewest chunks per member that keep ``workers`` evenly busy (each chunk builds its model once)."""
    for chunks in range(1, folds + 1):
        if members * chunks >= workers and (members * chunks) % workers == 0:
            return chunks
    return folds


@dataclass(frozen=True)
class WalkForwardPlan:
    """One walk-forward as tasks, and how their results become ``walk_forward``'s result."""

    members: list[Forecaster]
    values: np.ndarray
    dates: pd.DatetimeIndex
    folds: list[Fold]
    lookback: int

    @classmethod
    def of(cls, prices: pd.Series, forecaster: Forecaster | Sequence[Forecaster], splitter: WalkForwardSplitter,
           *, first_target: int, last_target: int) -> WalkForwardPlan:  # fmt: skip
        """The plan of ``walk_forward(prices, forecaster, splitter, ...)`` with the same arguments."""
        values = prices.to_numpy(dtype=np.float64)[: last_target + 1]
        folds = splitter.split(len(values), first_target, last_target)
        return cls(fresh_members(forecaster), values, prices.index[: last_target + 1], folds, splitter.lookback)

    def independent(self) -> bool:
        """Whether every member's folds may be fit apart."""
        return all(isinstance(m, FoldIndependent) and m.independent_fits() for m in self.members)

    def units(self) -> int:
        """How many pieces of it could run side by side: members, or members times folds."""
        return len(self.members) * (len(self.folds) if self.independent() else 1)

    def tasks(self, workers: int, plan: int = 0) -> list[Task]:
        """The tasks for ``workers`` at once: one per member, or per member and chunk of folds (chunk by chunk)."""
        chunks = chunks_per_member(len(self.members), len(self.folds), workers) if self.independent() else 1
        parts = [list(part) for part in np.array_split(np.arange(len(self.folds)), chunks) if len(part)]
        return [Task(fit_member, (member, plan, i, self.values, [self.folds[k] for k in part], self.lookback),
                     f"plan{plan}-member{i}-fold{part[0]}")
                for part in parts for i, member in enumerate(self.members)]  # fmt: skip

    def result(self, outputs: Sequence[list[FoldOutput]], workers: int) -> WalkForwardResult:
        """The walk-forward's result from the outputs of ``tasks(workers)``, in their order."""
        per_member: list[list[FoldOutput]] = [[] for _ in self.members]
        for task, output in zip(self.tasks(workers), outputs, strict=True):
            per_member[task.args[2]].extend(output)
        tables, rows = [], []
        for k, fold in enumerate(self.folds):
            infos = [member[k][0] for member in per_member]
            seconds = float(sum(info["seconds"] for info in infos))
            rows.append(fold_row(self.dates, fold, summarise_fits(infos, int(infos[0]["n_train"]), seconds)))
            predicted = np.array([member[k][1] for member in per_member], dtype=np.float64)
            tables.append(fold_forecasts(self.values, self.dates, fold, predicted))
        return assemble(tables, rows)


class _Progress:
    """Turns the tasks' reports into ``on_fold(done, total, row)``: a fold is done when every member is."""

    def __init__(self, plan: WalkForwardPlan, on_fold: FoldCallback) -> None:
        self.members, self.total, self.on_fold = len(plan.members), len(plan.folds), on_fold
        self.seen: set[tuple[int, int]] = set()
        self.per_fold: dict[int, int] = {}
        self.done = 0
        self.lock = threading.Lock()

    def __call__(self, message: Any) -> None:
        plan, member, fold = message
        with self.lock:
            if plan != 0 or (member, fold) in self.seen:  # a task run again after a lost worker reports twice
                return
            self.seen.add((member, fold))
            self.per_fold[fold] = self.per_fold.get(fold, 0) + 1
            if self.per_fold[fold] == self.members:
                self.done += 1
                self.on_fold(self.done, self.total, {"fold": fold})


def run_plans(plans: Sequence[WalkForwardPlan], runner: TaskRunner,
              on_fold: FoldCallback | None = None) -> list[WalkForwardResult]:  # fmt: skip
    """Every plan's result, all their tasks run as one batch; ``on_fold`` follows the first plan's folds."""
    workers = max(1, runner.workers)
    tasks: list[Task] = []
    spans: list[tuple[int, int]] = []
    for number, plan in enumerate(plans):
        batch = plan.tasks(workers, number)
        spans.append((len(tasks), len(tasks) + len(batch)))
        tasks += batch
    progress = None
    if on_fold is not None and plans:
        on_fold(0, len(plans[0].folds), {})
        progress = _Progress(plans[0], on_fold)
    outputs = runner.run(tasks, progress)
    return [plan.result(outputs[a:b], workers) for plan, (a, b) in zip(plans, spans, strict=True)]


def parallel_walk_forward(prices: pd.Series, forecaster: Forecaster | Sequence[Forecaster],
                          splitter: WalkForwardSplitter, *, first_target: int, last_target: int,
                          runner: TaskRunner, on_fold: FoldCallback | None = None) -> WalkForwardResult:  # fmt: skip
    """``walk_forward`` with its independent pieces run by ``runner``: the same result, byte for byte."""
    plan = WalkForwardPlan.of(prices, forecaster, splitter, first_target=first_target, last_target=last_target)
    return run_plans([plan], runner, on_fold)[0]
