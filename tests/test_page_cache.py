"""The page cache: a tearsheet drawn once for some returns is served, verified, for the same returns again."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import reports.build
from backtests.cache_key import CacheKey
from backtests.config import RunConfig
from backtests.config.schema import DataConfig
from backtests.page_cache import PageCache
from backtests.sweeps.sweeper import sweep
from reports.build import build_report
from reports.saved import load_run
from reports.tearsheet import tearsheet_key

from .conftest import tiny_forecast

KEY = CacheKey(b"k" * 32)


def _copy(run: tuple[object, Path], to: Path) -> Path:
    shutil.copytree(run[1], to)
    return to


def _args(folder: Path) -> tuple:
    run = load_run(folder)
    returns = run.returns_table()
    return returns["strategy"], returns["benchmark"].rename(run.meta["benchmark"]["ticker"]), "a title"


def test_the_key_follows_every_input(tiny_run: tuple[object, Path]) -> None:
    strategy, bench, title = _args(tiny_run[1])
    key = tearsheet_key(strategy, bench, title)
    assert key == tearsheet_key(strategy.copy(), bench.copy(), title)
    nudged = strategy.copy()
    nudged.iloc[-1] += 1e-15
    assert len({key, tearsheet_key(nudged, bench, title), tearsheet_key(strategy, bench, "another title"),
                tearsheet_key(strategy, bench.rename("QQQ"), title)}) == 4  # fmt: skip


def test_a_rerun_serves_the_page_drawn_before(tiny_run: tuple[object, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    pages = PageCache(tmp_path / "pages", key=KEY)
    first = _copy(tiny_run, tmp_path / "first")
    build_report(first, pages=pages)
    drawn = (first / "tearsheet.html").read_bytes()
    assert drawn == (tiny_run[1] / "tearsheet.html").read_bytes()  # the same returns draw the same bytes
    assert len(list((tmp_path / "pages").glob("*.html"))) == 1

    def no_drawing(*_: object) -> str:
        raise AssertionError("drawn again")

    monkeypatch.setattr(reports.build, "tearsheet_html", no_drawing)
    second = _copy(tiny_run, tmp_path / "second")
    build_report(second, pages=pages)
    assert (second / "tearsheet.html").read_bytes() == drawn


def _stored(tmp_path: Path) -> tuple[PageCache, str, Path, Path]:
    pages = PageCache(tmp_path / "pages", key=KEY)
    key = "0123456789abcdef" * 2
    pages.put(key, "<html>page</html>")
    return pages, key, tmp_path / "pages" / f"{key}.html", tmp_path / "pages" / f"{key}.json"


def test_an_altered_foreign_or_planted_entry_is_a_miss(tmp_path: Path) -> None:
    pages, key, page, header = _stored(tmp_path)
    assert pages.get(key) == "<html>page</html>"
    assert PageCache(tmp_path / "pages", key=CacheKey(b"o" * 32)).get(key) is None  # signed with another key
    page.write_text("<html>planted</html>")
    assert pages.get(key) is None
    page.unlink()
    (tmp_path / "elsewhere.html").write_text("<html>page</html>")
    page.symlink_to(tmp_path / "elsewhere.html")
    assert pages.get(key) is None  # a link is never followed
    header.unlink()
    os.mkfifo(header)
    assert pages.get(key) is None  # a FIFO is refused unread (no hang)
    header.unlink()
    header.write_text(json.dumps({"key": key, "sha256": "0" * 64, "hmac": "0" * 64}))
    assert pages.get(key) is None
    assert pages.get("f" * 32) is None


def test_a_cache_that_cannot_be_written_is_a_notice(tmp_path: Path) -> None:
    (tmp_path / "pages").write_text("a file where the folder should be")
    heard: list[str] = []
    PageCache(tmp_path / "pages", key=KEY, notify=heard.append).put("a" * 32, "<html></html>")
    assert len(heard) == 1 and "not cached" in heard[0]


def test_a_sweep_rerun_takes_its_tearsheets_from_the_cache(tmp_path: Path, isolated_cache: Path) -> None:
    forecast = tiny_forecast("ridge")
    start = dt.date(2026, 3, 1)
    configs = [RunConfig(data=DataConfig(ticker=t, start=start), forecast=forecast) for t in ("AAPL", "MSFT")]
    first = sweep(configs, out=tmp_path / "first", executor="sync")
    entries = sorted(p.name for p in (isolated_cache / "pages").iterdir())
    assert len(entries) == 4  # a page and its signed header for each job
    again = sweep(configs, out=tmp_path / "again", executor="sync")
    assert sorted(p.name for p in (isolated_cache / "pages").iterdir()) == entries
    for job in first.results["job_id"]:
        for name in ("tearsheet.html", "report.html"):
            drawn, served = (run.folder / "runs" / job / name for run in (first, again))
            assert drawn.read_bytes() == served.read_bytes()


CHARTS = """
import sys
import pandas as pd
from reports.charts import predicted_vs_actual
days = pd.bdate_range("2026-01-01", periods=60)
table = pd.DataFrame({"target_date": days, "actual": range(60), "forecast": range(1, 61)})
fresh = predicted_vs_actual(table, None, title="t")
assert fresh == predicted_vs_actual.__wrapped__(table, None, title="t")  # the default style is a fresh process's
import quantstats  # sets a seaborn theme and a font for the whole process
assert predicted_vs_actual(table, None, title="t") == fresh
assert predicted_vs_actual.__wrapped__(table, None, title="t") != fresh  # what the charts were drawn with before
"""


def test_charts_do_not_depend_on_what_the_process_drew_before() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MATPLOTLIBRC"}
    done = subprocess.run([sys.executable, "-c", CHARTS], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
