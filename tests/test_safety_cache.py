"""Issue 18, item 4: the forecast cache serves only what it can verify; saved models name no module to import.

Entries are signed with a key the user holds (``BT_CACHE_KEY`` or a 0600 key file), checked against the
run's own prices, and read in bounded time and memory; anything else is a miss with one notice line and
is recomputed. A saved model's class is looked up among the registered forecasters before any import.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.cache import ForecastCache, forecast_key, series_fingerprint
from backtests.cache_check import Expected
from backtests.cache_key import CacheKey, cache_key, key_file
from backtests.config import DataConfig, RunConfig
from backtests.errors import ConfigError
from forecasting import WalkForwardResult, walk_forward

from .conftest import BUNDLED, bt, tiny_forecast

KEY_A, KEY_B = CacheKey(b"a" * 32), CacheKey(b"b" * 32)
RIDGE = ["--model", "ridge", "--start", "2026-06-01", "--train-days", "120", "--lookback", "20"]
NOTICE = "ignoring unusable forecast cache entry"


@pytest.fixture(autouse=True)
def own_config_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own config folder (so its own key file) and no BT_CACHE_KEY of the caller's."""
    folder = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    monkeypatch.delenv("BT_CACHE_KEY", raising=False)
    return folder


def _close() -> pd.Series:
    frame = pd.read_csv(BUNDLED / "AAPL.csv", parse_dates=["date"], index_col="date")
    return frame["close"].loc["2018-01-01":"2019-06-30"]


def _entry(close: pd.Series) -> tuple[WalkForwardResult, Expected]:
    cfg = tiny_forecast("ridge")
    result = walk_forward(close, cfg.forecaster(), cfg.splitter(), first_target=100, last_target=140)
    return result, Expected.of(close, cfg, 100, 140)


def _bounded(fn: Callable[[], object], seconds: float = 120) -> object:
    """``fn()`` in a thread; fails only if it is still running after ``seconds`` (a real hang)."""
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the cache read did not return"
    return out[0]


def _forge(folder: Path, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> int:
    """Rewrite every entry's forecasts table with ``edit`` and fix its sha256, as a writer without the key can."""
    headers = sorted(folder.glob("*.json"))
    for header_path in headers:
        table = folder / header_path.name.replace(".json", ".forecasts.csv")
        text = edit(pd.read_csv(table)).to_csv(index=False, float_format="%.17g").encode()
        table.write_bytes(text)
        header = json.loads(header_path.read_text())
        header["sha256"]["forecasts"] = hashlib.sha256(text).hexdigest()
        header_path.write_text(json.dumps(header))
    return len(headers)


def _run(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return bt("run", "lstm-strategy", "AAPL", *RIDGE, "--out", str(out), *extra)


def _same_outputs(a: Path, b: Path) -> None:
    for name in ("forecasts.csv", "trades.csv", "returns.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


# Forged and damaged entries


def test_forged_forecast_equal_to_actual_with_a_valid_checksum_is_a_miss(tmp_path: Path, isolated_cache: Path) -> None:
    first = _run(tmp_path / "first")
    assert first.returncode == 0, first.stderr
    assert _forge(isolated_cache / "forecasts", lambda t: t.assign(forecast=t["actual"])) == 4
    again = _run(tmp_path / "again")
    assert again.returncode == 0, again.stderr
    notices = [line for line in again.stderr.splitlines() if NOTICE in line]
    assert len(notices) == 4 and all("signature does not verify" in line for line in notices), again.stderr
    assert "RMSE 0.0000" not in again.stdout and "from cache" not in again.stdout
    _same_outputs(tmp_path / "first", tmp_path / "again")
    third = _run(tmp_path / "third")  # the recomputed entries were rewritten, signed
    assert "from cache" in third.stdout and NOTICE not in third.stderr


def _signed_but_wrong(cache: ForecastCache, key: str, how: str, result: WalkForwardResult) -> None:
    """Store a damaged copy of ``result`` with the cache's own key: only the data checks can catch it."""
    f = result.forecasts.copy()
    damaged = {
        "short": lambda: f.iloc[:-3],
        "nan": lambda: f.assign(forecast=f["forecast"].where(f.index != 5)),
        "inf": lambda: f.assign(forecast=f["forecast"].where(f.index != 5, np.inf)),
        "empty": lambda: f.iloc[:0],
        "duplicated": lambda: pd.concat([f, f.iloc[[4]]]).sort_values("target_date", kind="stable"),
        "string": lambda: f.assign(forecast=f["forecast"].astype(str) + "x"),
        "actual": lambda: f.assign(actual=f["actual"] * 1.01),
        "dates": lambda: f.assign(target_date=f["target_date"] + pd.Timedelta(days=1)),
        "origins": lambda: f.assign(origin_date=f["origin_date"] - pd.Timedelta(days=7)),
        "members": lambda: f.assign(member_0=f["forecast"]),
    }[how]()
    cache.put(key, WalkForwardResult(damaged.reset_index(drop=True), result.folds))


@pytest.mark.parametrize("how", ["short", "nan", "inf", "empty", "duplicated", "string", "actual", "dates",
                                 "origins", "members"])  # fmt: skip
def test_signed_entries_that_are_not_the_runs_walk_forward_are_misses(tmp_path: Path, how: str) -> None:
    notices: list[str] = []
    cache = ForecastCache(tmp_path, notify=notices.append, key=KEY_A)
    result, expect = _entry(_close())
    cache.put("k", result)
    hit = cache.get("k", expect)
    assert hit is not None and hit.forecasts.equals(result.forecasts) and not notices
    _signed_but_wrong(cache, "k", how, result)
    assert cache.get("k", expect) is None
    assert len(notices) == 1 and notices[0].startswith(NOTICE) and notices[0].endswith("; recomputing")
    assert "\n" not in notices[0]


def test_folds_that_are_not_the_splitters_are_misses(tmp_path: Path) -> None:
    notices: list[str] = []
    cache = ForecastCache(tmp_path, notify=notices.append, key=KEY_A)
    result, expect = _entry(_close())
    folds = result.folds.assign(train_start=result.folds["train_start"] - pd.Timedelta(days=30))
    cache.put("k", WalkForwardResult(result.forecasts, folds))
    assert cache.get("k", expect) is None and "train_start" in notices[0]


def test_damaged_tables_through_the_cli_are_notices_and_the_right_result(tmp_path: Path, isolated_cache: Path) -> None:
    """Short, NaN, duplicated and string tables, signed with the user's key: one notice each, the same run."""
    first = _run(tmp_path / "first")
    assert first.returncode == 0, first.stderr
    folder = isolated_cache / "forecasts"
    cache = ForecastCache(folder, key=cache_key())  # the key file the run made, in this test's config folder
    for header, how in zip(sorted(folder.glob("*.json")), ["short", "nan", "duplicated", "string"], strict=True):
        key = header.name.removesuffix(".json")
        stored = cache.get(key)
        assert stored is not None
        _signed_but_wrong(cache, key, how, stored)
    again = _run(tmp_path / "again")
    assert again.returncode == 0, again.stderr
    assert sum(NOTICE in line for line in again.stderr.splitlines()) == 4, again.stderr
    assert "Traceback" not in again.stderr and "from cache" not in again.stdout
    _same_outputs(tmp_path / "first", tmp_path / "again")


# Special files in place of an entry's files


def test_special_files_as_cache_entries_are_refused_in_bounded_time(tmp_path: Path) -> None:
    result, expect = _entry(_close())
    notices: list[str] = []
    cache = ForecastCache(tmp_path, notify=notices.append, key=KEY_A)
    for key in ("dir", "zero", "fifo", "huge", "linked-header"):
        cache.put(key, result)
    (tmp_path / "dir.forecasts.csv").unlink()
    (tmp_path / "dir.forecasts.csv").mkdir()
    (tmp_path / "zero.forecasts.csv").unlink()
    (tmp_path / "zero.forecasts.csv").symlink_to("/dev/zero")
    (tmp_path / "fifo.folds.csv").unlink()
    os.mkfifo(tmp_path / "fifo.folds.csv")
    with open(tmp_path / "huge.forecasts.csv", "r+b") as handle:
        handle.truncate(8 * 1024**3)  # sparse: 8 GiB that take no disk
    (tmp_path / "linked-header.json").rename(tmp_path / "elsewhere.json")
    (tmp_path / "linked-header.json").symlink_to(tmp_path / "elsewhere.json")
    for key in ("dir", "zero", "fifo", "huge", "linked-header"):
        assert _bounded(lambda key=key: cache.get(key, expect)) is None, key
    assert len(notices) == 5
    assert "not a regular file" in notices[0] and "symbolic link" in notices[1] and "not a regular file" in notices[2]
    assert "larger than" in notices[3] and "symbolic link" in notices[4]


def test_a_directory_and_a_dev_zero_link_as_entries_through_the_cli(tmp_path: Path, isolated_cache: Path) -> None:
    first = _run(tmp_path / "first")
    assert first.returncode == 0, first.stderr
    headers = sorted((isolated_cache / "forecasts").glob("*.json"))
    headers[0].unlink()
    headers[0].mkdir()  # a directory where the header was: not readable, and not writable either
    table = Path(str(headers[1]).replace(".json", ".forecasts.csv"))
    table.unlink()
    table.symlink_to("/dev/zero")
    again = _run(tmp_path / "again")
    assert again.returncode == 0, again.stderr
    lines = again.stderr.splitlines()
    assert sum(NOTICE in line for line in lines) == 2, again.stderr
    assert any("could not store forecast cache entry" in line for line in lines), again.stderr
    _same_outputs(tmp_path / "first", tmp_path / "again")


# The key


def test_an_entry_signed_with_another_key_is_a_miss(tmp_path: Path) -> None:
    result, expect = _entry(_close())
    ForecastCache(tmp_path, key=KEY_A).put("k", result)
    notices: list[str] = []
    assert ForecastCache(tmp_path, notify=notices.append, key=KEY_B).get("k", expect) is None
    assert len(notices) == 1 and "signature does not verify" in notices[0]
    assert ForecastCache(tmp_path, key=KEY_A).get("k", expect) is not None
    assert "a" * 32 not in repr(KEY_A) and "a" * 32 not in (tmp_path / "k.json").read_text()


def test_bt_cache_key_is_used_and_no_key_file_is_made(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BT_CACHE_KEY", "b" * 32)
    assert cache_key() == KEY_B and not key_file().exists()
    result, expect = _entry(_close())
    ForecastCache(tmp_path, key=KEY_B).put("k", result)
    assert ForecastCache(tmp_path).get("k", expect) is not None  # the env's key verifies KEY_B's entry
    monkeypatch.setenv("BT_CACHE_KEY", "short")
    with pytest.raises(ConfigError, match="BT_CACHE_KEY must be a secret of 16 characters or more"):
        cache_key()


def test_the_key_file_is_made_private_once_and_refused_when_unsafe(tmp_path: Path) -> None:
    first = cache_key()
    path = key_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert cache_key() == first  # read back, not made again
    path.chmod(0o644)
    with pytest.raises(ConfigError, match=r"can be read by other users \(mode 0644\); run `chmod 600"):
        cache_key()
    path.chmod(0o600)
    target = tmp_path / "victim.key"
    target.write_text("c" * 40)
    target.chmod(0o600)
    path.unlink()
    path.symlink_to(target)
    with pytest.raises(ConfigError, match="is a symbolic link"):
        cache_key()
    assert target.read_text() == "c" * 40


def test_an_unsafe_key_file_is_a_one_line_error_before_training(tmp_path: Path) -> None:
    cache_key()
    key_file().chmod(0o640)
    result = _run(tmp_path / "r")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "cache.key can be read by other users" in result.stderr and not (tmp_path / "r").exists()
    assert _run(tmp_path / "r2", "--no-cache").returncode == 0  # without the cache no key is needed


# Workers


def test_dask_workers_verify_and_sign_with_the_key_they_are_given(tmp_path: Path, isolated_cache: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from backtests.sweeps.engine import ExecutorSpec, run_jobs
    from backtests.sweeps.sweeper import as_jobs

    monkeypatch.setenv("BT_CACHE_KEY", "c" * 32)  # what the workers would find themselves: not the key given
    config = RunConfig(data=DataConfig("AAPL", start=dt.date(2026, 6, 1)), forecast=tiny_forecast("ridge"))
    jobs = as_jobs([config])
    rows: list[dict[str, object]] = []

    def on_done(job: object, outcome: dict[str, object]) -> None:
        assert outcome["ok"], outcome
        rows.append(outcome["row"])  # type: ignore[arg-type]

    run_jobs(jobs, ExecutorSpec(scheduler="sync"), lean=True, on_done=on_done, notify=lambda _: None, key=KEY_A)
    folder = isolated_cache / "forecasts"
    assert _forge(folder, lambda t: t.assign(forecast=t["actual"])) == 4
    run_jobs(jobs, ExecutorSpec(scheduler="local", workers=1), lean=True, on_done=on_done, notify=lambda _: None,
             key=KEY_A)  # fmt: skip
    sync, worker = rows
    assert worker["cache_hit"] is False and worker["worker"] != sync["worker"]
    assert worker["forecast_rmse"] == sync["forecast_rmse"] > 0
    prices = pd.read_csv(BUNDLED / "AAPL.csv", parse_dates=["date"], index_col="date")["close"]
    first, last = int(prices.index.searchsorted(pd.Timestamp("2026-06-01"))), len(prices) - 1
    key = forecast_key(series_fingerprint(prices.iloc[: last + 1]), config.forecast, prices.index[first],
                       prices.index[last])  # fmt: skip
    expect = Expected.of(prices, config.forecast, first, last)
    assert ForecastCache(folder, key=KEY_A).get(key, expect) is not None  # the worker signed with the key given
    assert ForecastCache(folder, key=CacheKey(b"c" * 32)).get(key, expect) is None


# Saved models


@pytest.mark.parametrize("path", ["antigravity:Ridge", "this:Forecaster", "forecasting.baselines:Missing"])
def test_a_saved_model_naming_an_unregistered_class_is_refused_before_any_import(path: str) -> None:
    module = path.split(":")[0]
    code = (
        "import sys\n"
        "from forecasting import Forecaster\n"
        "from forecasting.state import pack, StateError\n"
        f"data = pack({path!r}, {{}}, {{}})\n"
        "try:\n"
        "    Forecaster.from_bytes(data)\n"
        "except StateError as exc:\n"
        "    print('refused:', exc)\n"
        f"print('imported' if {module!r} in sys.modules else 'not imported')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"refused: the saved forecaster's class {path} is not a registered forecaster" in out.stdout
    if module != "forecasting.baselines":
        assert out.stdout.strip().endswith("not imported"), out.stdout


def test_a_registered_class_still_loads_and_a_wrong_base_is_refused() -> None:
    from forecasting import Forecaster, LSTMForecaster, RidgeForecaster
    from forecasting.state import StateError, pack

    model = RidgeForecaster(alpha=0.5)
    assert isinstance(Forecaster.from_bytes(model.to_bytes()), RidgeForecaster)
    with pytest.raises(StateError, match="not a LSTMForecaster"):
        LSTMForecaster.from_bytes(model.to_bytes())
    with pytest.raises(StateError, match="parameters do not fit"):
        Forecaster.from_bytes(pack("forecasting.baselines:RidgeForecaster", {"nonsense": 1}, {}))
