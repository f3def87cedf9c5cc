"""The sweep folder: sweep.json, results.csv, failures.csv and one run folder per job, streamed.

One sweep writes a folder at a time: opening it claims the folder's lock (``folderlock``) until the
folder object is let go (at the end of ``sweep``, or when the process ends), and a folder holding a
``sweep.json``, ``results.csv``, ``failures.csv``, ``sweep.html`` or ``runs`` that bt did not write
(``manifest``) is refused. Every file is written atomically and rewritten as each job completes, so a sweep killed
at any moment leaves complete files describing the jobs finished so far; rerunning the
same sweep (or a larger grid containing it) in the same folder skips those jobs. A folder
holding results of jobs that are not in the new sweep is refused rather than mixed.
"""

from __future__ import annotations

import json
import os
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reports.files import atomic_write_text, write_csv, write_json

from ..data.bounded import NotRegularFile, open_regular
from ..errors import ConfigError
from ..folderlock import claim, let_go
from ..manifest import MANIFEST, DamagedManifest, Owned, read_manifest, read_small_json, write_manifest
from ..outfolder import check_target, check_writable
from ..runfolder import package_versions
from .job import METRICS
from .spec import Grid, Job

KIND, FORMAT = "bt-lstm sweep", 1
OWN_FILES = ("sweep.json", "results.csv", "failures.csv", "sweep.html")  # with runs/JOB/: all a sweep writes


@dataclass
class SweepFolder:
    """An open sweep folder: the jobs it is for and the rows finished so far (by job id)."""

    path: Path
    jobs: list[Job]
    grid: Grid
    strategy: str
    universe: dict[str, Any] | None = None
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def open(self) -> SweepFolder:
        """Check the folder can hold this sweep, read earlier results, write sweep.json."""
        self._check_writable()
        earlier = self._read_results()
        ids = {job.job_id for job in self.jobs}
        foreign = sorted(set(earlier) - ids)
        if foreign:
            raise ConfigError(f"{self.path} holds results of {len(foreign)} job(s) that are not in this sweep "
                              "(another sweep's folder); pass another --out")  # fmt: skip
        self.rows = earlier
        write_json(self.path / "sweep.json", self.describe())
        return self

    def _check_writable(self) -> None:
        """Claim the folder (one sweep at a time) and refuse one holding sweep files bt did not write."""
        check_writable(self.path, what="sweep folder")
        check_target(self.path, what="sweep folder", replaced=False)  # written into, never replaced
        claim(self.path, "sweep folder")
        try:
            self._check_own()
            (self.path / "runs").mkdir(parents=True, exist_ok=True)
            write_manifest(self.path, "sweep folder", OWN_FILES, ["runs"])
            weakref.finalize(self, let_go, self.path)  # held while this sweep's folder object lives
        except OSError as exc:
            let_go(self.path)
            raise ConfigError(f"sweep folder {self.path} cannot be written ({exc.strerror or exc}); "
                              "pass another --out") from None  # fmt: skip
        except BaseException:
            let_go(self.path)
            raise

    def _check_own(self) -> None:
        """A sweep writes only into a new folder, a folder of other files, or its own earlier sweep folder."""
        if not self.path.is_dir():
            return
        try:
            ours = read_manifest(self.path)
        except DamagedManifest:
            ours = Owned(frozenset())
        if ours is not None and ours.what != "sweep folder":
            what = f"a bt {ours.what}" if ours.what else f"a {MANIFEST} bt did not write"
            raise ConfigError(f"sweep folder {self.path} holds {what}, not a sweep; pass another --out")
        if ours is None and (self.path / "sweep.json").exists():
            meta = read_small_json(self.path / "sweep.json")
            ours = Owned(frozenset(OWN_FILES), frozenset({"runs"})) \
                if isinstance(meta, dict) and meta.get("kind") == KIND else None  # fmt: skip
        for name in (*OWN_FILES, "runs"):
            path = self.path / name
            mine = ours is not None and (name in ours.files if name != "runs" else name in ours.folders)
            if os.path.lexists(path) and (not mine or path.is_symlink()):
                raise ConfigError(f"sweep folder {self.path} holds {name}, which bt did not write; move it away "
                                  "or pass another --out")  # fmt: skip

    def _read_results(self) -> dict[str, dict[str, Any]]:
        path = self.path / "results.csv"
        if not path.exists():
            return {}
        try:
            with open_regular(path) as handle:  # a FIFO or device would block the sweep for good
                frame = pd.read_csv(handle, float_precision="round_trip", dtype={"job_id": str})
        except NotRegularFile as err:
            raise ConfigError(f"{path}: {err}; move it away to recompute the sweep") from None
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
            raise ConfigError(f"{path} is damaged; move it away to recompute the sweep") from None
        if "job_id" not in frame.columns:
            raise ConfigError(f"{path} is not a bt sweep results file; pass another --out")
        have = [c for c in METRICS if c in frame.columns]
        return {r["job_id"]: {c: r[c] for c in have} for r in frame.to_dict(orient="records")}

    def pending(self) -> list[Job]:
        """The jobs with no result yet (failed ones are tried again)."""
        return [job for job in self.jobs if job.job_id not in self.rows]

    def describe(self) -> dict[str, Any]:
        """sweep.json: the sweep's grid, tickers, universe, job list and versions."""
        base = self.jobs[0].config.to_dict() if self.jobs else None
        return {
            "kind": KIND, "format": FORMAT, "strategy": self.strategy,
            "grid": {key: list(values) for key, values in self.grid},
            "tickers": list(dict.fromkeys(job.ticker for job in self.jobs)), "universe": self.universe,
            "base_config": base,
            "jobs": [{"job_id": j.job_id, "ticker": j.ticker, "grid": j.grid} for j in self.jobs],
            "versions": package_versions(),
        }  # fmt: skip

    def record(self, job: Job, outcome: dict[str, Any]) -> None:
        """Store one finished job: its run folder first, then its row (so a row always has its files)."""
        if not outcome.get("ok"):
            self.failures[job.job_id] = str(outcome.get("error", "unknown error"))
            self._write_failures()
            return
        folder = self.path / "runs" / job.job_id
        if folder.is_symlink():
            raise ConfigError(f"{folder} is a symbolic link, which bt did not write; move it away and rerun")
        for name, text in outcome["files"].items():
            atomic_write_text(folder / name, text)
        write_manifest(folder, "sweep job folder", list(outcome["files"]))
        self.failures.pop(job.job_id, None)
        self.rows[job.job_id] = outcome["row"]
        self.write_results()
        self._write_failures()

    def _grid_columns(self, job: Job) -> dict[str, Any]:
        return {"job_id": job.job_id, "ticker": job.ticker, **{k: job.grid.get(k) for k, _ in self.grid}}

    def results(self) -> pd.DataFrame:
        """results.csv as a table, in job order."""
        rows = [{**self._grid_columns(j), **{c: self.rows[j.job_id].get(c) for c in METRICS}}
                for j in self.jobs if j.job_id in self.rows]  # fmt: skip
        return pd.DataFrame(rows, columns=["job_id", "ticker", *(k for k, _ in self.grid), *METRICS])

    def write_results(self) -> None:
        write_csv(self.results(), self.path / "results.csv", index=False)

    def _write_failures(self) -> None:
        rows = [{**self._grid_columns(j), "error": self.failures[j.job_id]} for j in self.jobs
                if j.job_id in self.failures]  # fmt: skip
        columns = ["job_id", "ticker", *(k for k, _ in self.grid), "error"]
        write_csv(pd.DataFrame(rows, columns=columns), self.path / "failures.csv", index=False)


def read_sweep_json(folder: Path) -> dict[str, Any]:
    """sweep.json of a folder, checked; ConfigError when missing or foreign."""
    path = Path(folder) / "sweep.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"{path} is missing or damaged; {folder} is not a sweep folder") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise ConfigError(f"{path} is not a bt sweep file")
    return meta
