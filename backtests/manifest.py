"""What bt wrote in an output folder: its manifest, ``.bt-manifest.json``, and how to find a file it did not write.

Every output folder bt writes (run, walk-forward, portfolio run, paper report, sweep) holds a
manifest naming the files bt put there and the sub-folders that are bt's own folders (each with its
own manifest: a sweep's ``runs/JOB``). A folder is replaced by ``--overwrite`` only when nothing in it
is outside its manifest. Folders written by earlier versions have no manifest: such a folder counts
as bt's only when its marker is bt's (``run.json`` or ``metrics.json`` of a bt kind; for a paper
report every file an earlier report wrote) and it holds nothing but the file names that version wrote.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.files import write_json
from reports.safe_read import read_json_capped

MANIFEST = ".bt-manifest.json"
MANIFEST_KIND, MANIFEST_FORMAT = "bt-lstm output folder", 1
LIMIT = 16 * 2**20  # a marker or manifest larger than this is not bt's


@dataclass(frozen=True)
class Owned:
    """The names bt wrote in a folder: plain files, and sub-folders that each carry a manifest of their own."""

    files: frozenset[str]
    folders: frozenset[str] = frozenset()
    what: str = ""


_PAPER = ("days", "positions", "orders", "fills", "forecasts", "models")
_RUN = ("forecasts.csv", "folds.csv", "baselines.csv", "trades.csv", "returns.csv", "run.json", "report.html",
        "tearsheet.html")  # fmt: skip
_PORTFOLIO = ("returns.csv", "equity.csv", "weights.csv", "trades.csv", "turnover.csv", "tickers.csv", "forecasts.csv",
              "run.json", "report.html", "tearsheet.html")  # fmt: skip
_PAGES = ("report.html", "tearsheet.html")


@dataclass(frozen=True)
class Legacy:
    """The files a folder of one kind held before manifests: a folder with a manifest-less marker is bt's only
    when ``marker`` (JSON) says ``kind``, every ``required`` name is there, and nothing outside ``allowed``."""

    what: str
    marker: str
    kind: str | None
    required: frozenset[str]
    allowed: frozenset[str]


LEGACY = (
    Legacy("run folder", "run.json", "bt-lstm run", frozenset({"run.json", "returns.csv"}), frozenset(_RUN)),
    Legacy("run folder", "run.json", "bt-lstm portfolio run", frozenset({"run.json", "returns.csv", "equity.csv"}),
           frozenset(_PORTFOLIO)),
    Legacy("run folder", "metrics.json", "bt-lstm walk-forward", frozenset({"metrics.json"}),
           frozenset({"forecasts.csv", "folds.csv", "baselines.csv", "metrics.json", "forecast.html"})),
    # a portfolio's paper report first: it holds every file of a one-ticker paper report, and two more
    Legacy("report folder", "report.html", None, frozenset({*(f"{t}.csv" for t in (*_PAPER, "weights", "returns")),
                                                            *_PAGES}),
           frozenset({*(f"{t}.csv" for t in (*_PAPER, "weights", "returns")), *_PAGES})),
    Legacy("report folder", "report.html", None, frozenset({*(f"{t}.csv" for t in _PAPER), *_PAGES}),
           frozenset({*(f"{t}.csv" for t in _PAPER), *_PAGES})),
)  # fmt: skip


class DamagedManifest(ValueError):
    """A manifest that is not bt's or cannot be read."""


def write_manifest(folder: Path, what: str, files: Sequence[str], folders: Sequence[str] = ()) -> None:
    """Record, atomically, that bt wrote ``files`` (and the bt folders ``folders``) in ``folder``."""
    write_json(Path(folder) / MANIFEST, {"kind": MANIFEST_KIND, "format": MANIFEST_FORMAT, "what": what,
                                         "files": sorted(files), "folders": sorted(folders)})  # fmt: skip


def plain_files(folder: Path) -> list[str]:
    """The names of the plain files directly in ``folder`` (not links), the manifest left out."""
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.is_file(follow_symlinks=False) and e.name != MANIFEST)


def read_small_json(path: Path) -> Any:
    """A small JSON file, opened without following a link or blocking; None when absent, not plain, too large
    (over LIMIT), too deeply nested or not JSON."""
    try:
        return read_json_capped(path, LIMIT, follow_links=False)
    except (OSError, ValueError):
        return None


def read_manifest(folder: Path) -> Owned | None:
    """The folder's manifest; None when it has none; ``DamagedManifest`` when it has one bt cannot have written."""
    path = Path(folder) / MANIFEST
    if not os.path.lexists(path):
        return None
    meta = read_small_json(path)
    if not isinstance(meta, dict) or meta.get("kind") != MANIFEST_KIND:
        raise DamagedManifest(f"{MANIFEST} is damaged or not bt's")
    files, folders = meta.get("files"), meta.get("folders", [])
    if not (isinstance(files, list) and isinstance(folders, list)
            and all(isinstance(n, str) and n and "/" not in n for n in [*files, *folders])):  # fmt: skip
        raise DamagedManifest(f"{MANIFEST} is damaged or not bt's")
    return Owned(frozenset(files), frozenset(folders), str(meta.get("what", "")))


def legacy_owned(folder: Path) -> Owned | None:
    """What an earlier version wrote in ``folder``, when it is recognisably one of its folders (see ``LEGACY``)."""
    names = set(os.listdir(folder))
    for legacy in LEGACY:
        if legacy.marker not in names or not legacy.required <= names:
            continue
        marker = Path(folder) / legacy.marker
        if os.path.islink(marker) or not marker.is_file():
            continue
        if legacy.kind is not None:
            meta = read_small_json(marker)
            if not isinstance(meta, dict) or meta.get("kind") != legacy.kind:
                continue
        return Owned(legacy.allowed, frozenset(), legacy.what)
    return None


def owned(folder: Path) -> Owned | None:
    """What bt wrote in ``folder``: from its manifest, else as an earlier version's folder; None if not bt's."""
    found = read_manifest(folder)
    return found if found is not None else legacy_owned(folder)


def first_foreign(folder: Path, what: Owned) -> str | None:
    """The first entry of ``folder`` (as a path relative to it) that bt did not write, or None."""
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name == MANIFEST:
                continue
            if entry.is_file(follow_symlinks=False) and entry.name in what.files:
                continue
            if entry.is_dir(follow_symlinks=False) and entry.name in what.folders:
                inner = _foreign_in_bt_folders(Path(entry.path))
                if inner is None:
                    continue
                return f"{entry.name}/{inner}"
            return entry.name
    return None


def _foreign_in_bt_folders(folder: Path) -> str | None:
    """In a folder of bt folders (a sweep's ``runs``): the first entry that is not one, or holds a foreign file."""
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if not entry.is_dir(follow_symlinks=False):
                return entry.name
            try:
                inner = read_manifest(Path(entry.path))
            except DamagedManifest:
                return f"{entry.name}/{MANIFEST}"
            if inner is None:
                return entry.name
            found = first_foreign(Path(entry.path), inner)
            if found is not None:
                return f"{entry.name}/{found}"
    return None
