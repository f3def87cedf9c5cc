"""Sweeps: many tickers x a grid of run settings, on Dask, with a verdict that survives data snooping.

``spec`` turns tickers and a grid into validated jobs, ``job`` runs one on a worker,
``engine`` chooses where (a loopback LocalCluster, an existing cluster, or in-process),
``folder`` streams results into the sweep folder and ``sweeper`` ties them together.
"""

from .engine import ExecutorSpec
from .spec import Job, build_jobs, parse_grid
from .sweeper import Progress, SweepResult, sweep

__all__ = ["ExecutorSpec", "Job", "Progress", "SweepResult", "build_jobs", "parse_grid", "sweep"]
