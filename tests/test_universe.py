"""backtests.data.universe: the bundled universes, point-in-time S&P 500 membership, ticker files.

The shared data set (../shared/data/universe) is the independent reference: its README's counts,
its membership file read with plain pandas, its price files compared with the bundled copies.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import gzip
import random
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.data import (
    BUNDLED_DIR,
    UNIVERSES,
    PriceData,
    Universe,
    bundled_tickers,
    download_missing,
    is_member,
    load_prices,
    membership,
    membership_mask,
    membership_span,
    parse_tickers,
    read_price_csv,
    tickers_from_file,
    universe,
    validate_prices,
)
from backtests.data.universe import UNIVERSE_DIR
from backtests.errors import ConfigError, DataError, NetworkError

from .conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
SHARED = SHARED_DATA / "universe"
LAST_DAY = pd.Timestamp("2026-08-14")


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} is not there")
    return path


def shared_list(name: str) -> list[str]:
    return pd.read_csv(shared(name))["ticker"].tolist()


@pytest.fixture(scope="module")
def intervals() -> pd.DataFrame:
    """The shared membership file, read independently: dates stay ISO strings ("" = still a member)."""
    return pd.read_csv(shared("sp500_membership.csv"), dtype=str, keep_default_na=False)


def members_on(intervals: pd.DataFrame, day: str) -> set[str]:
    """Members on ``day`` by plain string comparison of ISO dates: start <= day < end."""
    inside = (intervals.start_date <= day) & ((intervals.end_date == "") | (day < intervals.end_date))
    return set(intervals.ticker[inside])


def one_line(error: pytest.ExceptionInfo[Exception], *parts: str) -> str:
    message = str(error.value)
    assert "\n" not in message and message.strip() == message
    for part in parts:
        assert part in message, message
    return message


# The bundled universes


def test_dow30_is_the_shared_list_and_all_30_load_offline_and_validate(tmp_path: Path) -> None:
    dow = universe("dow30", cache_dir=tmp_path)
    assert dow.tickers == tuple(shared_list("dow30.csv")) and len(dow.tickers) == 30
    assert (dow.name, dow.members, dow.missing, dow.as_of) == ("dow30", 30, (), None)
    assert "2024-11-08" in dow.source and "not point-in-time" in dow.source
    for ticker in dow.tickers:
        data = load_prices(ticker, source="bundled", cache_dir=tmp_path)
        plain = ticker in ("AAPL", "MSFT")  # shipped before, uncompressed, and not twice
        assert data.source == f"bundled {ticker}.csv{'' if plain else '.gz'}"
        assert not (BUNDLED_DIR / f"{ticker}.csv.gz").exists() if plain else True
        validate_prices(data.frame, source=data.source)
        assert data.last_date == LAST_DAY and len(data.frame) > 1000


def test_sectors_are_the_nine_spdr_funds_and_load_offline(tmp_path: Path) -> None:
    sectors = universe("sectors", cache_dir=tmp_path)
    assert sectors.tickers == ("XLB", "XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY")
    assert sectors.tickers == tuple(shared_list("sectors.csv"))
    assert (sectors.members, sectors.missing) == (9, ())
    for ticker in sectors.tickers:
        data = load_prices(ticker)  # "auto" finds the bundled file: no network is touched
        assert data.source == f"bundled {ticker}.csv.gz"
        assert (data.first_date, data.last_date) == (pd.Timestamp("1998-12-22"), LAST_DAY)


def test_bundled_gzip_files_hold_exactly_the_shared_prices() -> None:
    for ticker, folder, suffix in (("AXP", "stocks", ".csv.gz"), ("NVDA", "stocks", ".csv.gz"),
                                   ("XLK", "etf", ".csv")):  # fmt: skip
        ours = load_prices(ticker, source="bundled").frame
        pd.testing.assert_frame_equal(ours, read_price_csv(shared(f"{folder}/{ticker}{suffix}")))
    raw = gzip.decompress((BUNDLED_DIR / "XLE.csv.gz").read_bytes())
    assert raw == shared("etf/XLE.csv").read_bytes()  # the ETF files as they came, only compressed


def test_bundled_lists_are_the_shared_files_and_package_data_ships_them() -> None:
    for name in ("dow30.csv", "sectors.csv", "sp500_membership.csv"):
        assert (UNIVERSE_DIR / name).read_bytes() == shared(name).read_bytes()
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    data_dir = BUNDLED_DIR.parent
    for path in BUNDLED_DIR.rglob("*"):
        if path.is_file():
            relative = path.relative_to(data_dir).as_posix()
            assert any(fnmatch.fnmatch(relative, p) for p in patterns["backtests.data"]), relative


def test_bundled_tickers_cover_both_universes_and_the_data_stays_small() -> None:
    names = set(bundled_tickers())
    assert names == {"SPY", *shared_list("dow30.csv"), *shared_list("sectors.csv")}
    added = sum(p.stat().st_size for p in BUNDLED_DIR.rglob("*") if p.is_file()) - sum(
        (BUNDLED_DIR / f"{t}.csv").stat().st_size for t in ("AAPL", "MSFT", "SPY"))  # fmt: skip
    assert added < 5_000_000  # 4.2 MB measured: 28 stocks and 9 ETFs gzip, three lists


def test_a_broken_gzip_file_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    good = gzip.compress(b"date,open,high,low,close,volume\n2020-01-02,1,2,0.5,1.5,10\n2020-01-03,1,2,0.5,1.5,10\n")
    path = tmp_path / "ok.csv.gz"
    path.write_bytes(good)
    assert len(read_price_csv(path)) == 2
    for name, data in (("garbage.csv.gz", b"not gzip at all"), ("cut.csv.gz", good[: len(good) // 2])):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DataError) as caught:
            read_price_csv(tmp_path / name)
        one_line(caught, name, "cannot be read")
    bad = gzip.compress(b"date,open,high,low,close,volume\n2020-01-02,1,0.9,0.5,1.5,10\n")
    (tmp_path / "bad.csv.gz").write_bytes(bad)
    with pytest.raises(DataError) as caught:
        read_price_csv(tmp_path / "bad.csv.gz")
    one_line(caught, "bad.csv.gz", "2020-01-02", "high >= max(open, close)")


# S&P 500, point in time


def test_sp500_on_2021_08_16_has_505_members_and_names_the_missing(tmp_path: Path, intervals: pd.DataFrame) -> None:
    sp = universe("sp500", as_of="2021-08-16", cache_dir=tmp_path)  # an empty cache: bundled data only
    expected = members_on(intervals, "2021-08-16")
    assert sp.members == len(expected) == 505  # the shared README's count
    assert set(sp.tickers) | set(sp.missing) == expected and not set(sp.tickers) & set(sp.missing)
    shipped = {p.name.split(".")[0] for p in BUNDLED_DIR.iterdir() if p.is_file()}
    assert set(sp.tickers) == expected & shipped
    assert len(sp.missing) == 505 - len(expected & shipped) == 475  # the 30 Dow stocks are all members
    assert {"BRK.B", "BF.B"} <= set(sp.missing)  # a dot: no file anywhere
    assert list(sp.tickers) == sorted(sp.tickers) and sp.as_of == pd.Timestamp("2021-08-16").date()
    assert "30 of 505 members with data, 475 missing" in sp.summary
    assert "survivorship-reduced" in sp.source and "475 missing" in sp.source


@pytest.mark.parametrize(("day", "members", "covered"), [("2006-01-03", 497, 292), ("2021-08-16", 505, 455),
                                                         ("2026-08-14", 503, 490)])  # fmt: skip
def test_sp500_with_the_shared_stocks_cached_matches_the_shared_coverage(
    tmp_path: Path, day: str, members: int, covered: int
) -> None:
    """The shared README's "of the members on a day, these files cover N": a file that starts after the day
    (another company under a reused ticker, such as DOW in 2006) does not count."""
    (tmp_path / "prices").mkdir()
    for path in shared("stocks").glob("*.csv.gz"):
        with gzip.open(path, "rt") as file:  # the header and first row are all a lookup reads
            (tmp_path / "prices" / path.name.removesuffix(".gz")).write_text(file.readline() + file.readline())
    sp = universe("sp500", as_of=day, cache_dir=tmp_path)
    assert (sp.members, len(sp.tickers), len(sp.missing)) == (members, covered, members - covered)
    if day == "2006-01-03":
        assert "DOW" in sp.missing and "DOW" in membership(day)


def test_sp500_counts_cached_prices_that_start_in_time(tmp_path: Path) -> None:
    prices = tmp_path / "prices"
    prices.mkdir()
    (prices / "TSLA.csv").write_text("date,open,high,low,close,volume\n2010-06-29,1,2,0.5,1,5\n")
    (prices / "DOW.csv").write_text("date,open,high,low,close,volume\n2019-03-20,1,2,0.5,1,5\n")
    late = universe("sp500", as_of="2021-08-16", cache_dir=tmp_path)
    assert "TSLA" in late.tickers and "DOW" in late.tickers and len(late.tickers) == 32
    early = universe("sp500", as_of="2006-01-03", cache_dir=tmp_path)
    assert "TSLA" not in early.tickers + early.missing  # not a member then
    assert "DOW" in early.missing  # Dow Chemical then; the cached DOW (Dow Inc.) starts in 2019
    assert "1 of them with a file that starts after that day" in early.source


def test_as_of_on_index_change_days(tmp_path: Path, intervals: pd.DataFrame) -> None:
    # Real changes in the file: V and ROST in, KBH out on 2009-12-21; TSLA in, AIV out on 2020-12-21.
    rows = {tuple(r) for r in intervals.itertuples(index=False)}
    assert {("V", "2009-12-21", ""), ("KBH", "1996-01-02", "2009-12-21"),
            ("TSLA", "2020-12-21", ""), ("AIV", "2003-03-14", "2020-12-21")} <= rows  # fmt: skip
    before = universe("sp500", as_of="2009-12-18", cache_dir=tmp_path)
    on = universe("sp500", as_of=pd.Timestamp("2009-12-21"), cache_dir=tmp_path)
    assert "V" not in before.tickers + before.missing and "V" in on.tickers  # V is bundled
    assert "KBH" in before.missing and "KBH" not in on.tickers + on.missing
    assert (before.members, on.members) == (len(members_on(intervals, "2009-12-18")),
                                            len(members_on(intervals, "2009-12-21")))  # fmt: skip
    assert (is_member("TSLA", "2020-12-18"), is_member("TSLA", "2020-12-21")) == (False, True)
    assert (is_member("aiv", "2020-12-18"), is_member("AIV", "2020-12-21")) == (True, False)
    day = universe("sp500", as_of="2020-12-21", cache_dir=tmp_path)
    assert "TSLA" in day.missing and "AIV" not in day.tickers + day.missing


def test_membership_mask_agrees_with_an_independent_interval_check(intervals: pd.DataFrame) -> None:
    rng = random.Random(20240808)
    every = sorted(set(intervals.ticker))
    tickers = rng.sample(every, 60) + ["AAL", "DOW", "TSLA", "AIV", "SPY", "XLB", "BRK.B", "aapl"]
    first, last = pd.Timestamp("1996-01-02"), LAST_DAY
    days = {first + pd.Timedelta(days=rng.randrange((last - first).days + 1)) for _ in range(300)}
    for t in ("AAL", "DOW", "TSLA", "AIV"):  # every change of these, and the day before it
        for row in intervals[intervals.ticker == t].itertuples():
            for edge in filter(None, (row.start_date, row.end_date)):
                days |= {pd.Timestamp(edge), pd.Timestamp(edge) - pd.Timedelta(days=1)}
    dates = pd.DatetimeIndex(sorted(d for d in days if d >= first))
    mask = membership_mask(tickers, dates)
    assert mask.index.equals(dates) and mask.dtypes.eq(bool).all()
    assert list(mask.columns) == [t.upper() for t in tickers]
    by_ticker = {t: list(zip(g.start_date, g.end_date, strict=True)) for t, g in intervals.groupby("ticker")}
    for day in dates:
        iso = f"{day:%Y-%m-%d}"
        for t in mask.columns:
            want = any(s <= iso and (e == "" or iso < e) for s, e in by_ticker.get(t, []))
            assert mask.at[day, t] == want, (t, iso)
    assert mask["AAL"].any() and not mask["SPY"].any() and not mask["XLB"].any()
    for day in rng.sample(list(dates), 25):
        assert set(membership(day)) == members_on(intervals, f"{day:%Y-%m-%d}")


def test_membership_mask_ignores_the_time_of_day_and_empty_input() -> None:
    stamps = pd.DatetimeIndex(["2020-12-18 15:59", "2020-12-21 09:30"])
    mask = membership_mask(["TSLA", "AIV"], stamps)
    assert mask.index.equals(stamps)
    np.testing.assert_array_equal(mask.to_numpy(), [[False, True], [True, False]])
    assert membership_mask(["AAPL"], pd.DatetimeIndex([])).shape == (0, 1)


# Ticker lists


def test_tickers_from_file_comments_blanks_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "mine.txt"
    path.write_text("ticker\n# my picks\n\nAAPL\n  msft  # inline comment\nSPY\naapl\n\n# end\nBRK.B\n")
    assert tickers_from_file(path) == ("AAPL", "MSFT", "SPY", "BRK.B")
    assert tickers_from_file(UNIVERSE_DIR / "dow30.csv") == universe("dow30").tickers


def test_tickers_from_file_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("AAPL\n\n# fine\nMSFT GOOG\n")
    with pytest.raises(DataError) as caught:
        tickers_from_file(path)
    one_line(caught, str(path), "line 4", "'MSFT GOOG'", "one ticker per line")
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(DataError) as caught:
        tickers_from_file(tmp_path / "empty.txt")
    one_line(caught, "empty.txt", "no tickers")
    with pytest.raises(DataError) as caught:
        tickers_from_file(tmp_path / "absent.txt")
    one_line(caught, "absent.txt", "no such")


def test_parse_tickers() -> None:
    assert parse_tickers("AAPL,msft, SPY") == ("AAPL", "MSFT", "SPY")
    assert parse_tickers(" xlk  xlf,,XLK ,") == ("XLK", "XLF")
    for text, part in (("AAPL,$$$", "'$$$'"), (" , ", "no tickers")):
        with pytest.raises(ConfigError) as caught:
            parse_tickers(text)
        one_line(caught, part)


# Errors that say what to do


def test_unknown_universe_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        universe("nasdaq100")
    one_line(caught, "'nasdaq100'", *UNIVERSES)
    assert universe(" DOW30 ").name == "dow30"


def test_as_of_errors_name_the_range_or_the_option() -> None:
    with pytest.raises(ConfigError) as caught:
        universe("sp500")
    one_line(caught, "--as-of", "1996-01-02")
    for day in ("1995-12-29", "2099-01-01"):
        with pytest.raises(ConfigError) as caught:
            universe("sp500", as_of=day)
        one_line(caught, day, "1996-01-02 to 2025-11-16", "outside")
    with pytest.raises(ConfigError) as caught:
        universe("sp500", as_of="16/08/2021x")
    one_line(caught, "not a date", "YYYY-MM-DD")
    with pytest.raises(ConfigError) as caught:
        universe("dow30", as_of="2021-08-16")
    one_line(caught, "--as-of", "sp500", "dow30")
    with pytest.raises(ConfigError) as caught:
        membership_mask(["AAPL"], pd.date_range("1995-12-20", "1996-01-10"))
    one_line(caught, "1995-12-20", "1996-01-02")
    assert membership_span()[0] == pd.Timestamp("1996-01-02")
    assert len(membership("2025-12-01")) == len(membership("2025-11-16"))  # unchanged after the data ends


def test_universe_is_frozen() -> None:
    dow = universe("dow30")
    assert isinstance(dow, Universe)
    with pytest.raises(dataclasses.FrozenInstanceError):
        dow.name = "other"  # type: ignore[misc]


# Filling the gaps from Yahoo


def test_download_missing_fills_the_cache_and_stops_at_the_first_network_failure(tmp_path: Path) -> None:
    axp = load_prices("AXP").frame
    yahoo_like = axp.rename(columns=str.title).rename_axis("Date")
    calls: list[str] = []

    def fake(ticker: str, start: pd.Timestamp | None) -> pd.DataFrame:
        calls.append(ticker)
        if len(calls) == 1:
            return yahoo_like
        if len(calls) == 2:
            return pd.DataFrame()  # Yahoo does not know it
        raise NetworkError("offline")

    sp = universe("sp500", as_of="2021-08-16", cache_dir=tmp_path)
    messages: list[str] = []
    after = download_missing(sp, cache_dir=tmp_path, downloader=fake, notify=messages.append)
    assert calls == list(sp.missing[:3])
    assert after.tickers == tuple(sorted((*sp.tickers, sp.missing[0])))
    assert after.missing == sp.missing[1:] and after.members == sp.members == 505
    assert (tmp_path / "prices" / f"{sp.missing[0]}.csv").is_file()
    assert any(sp.missing[1] in m for m in messages) and any("stopping" in m for m in messages)
    cached = load_prices(sp.missing[0], cache_dir=tmp_path, downloader=lambda t, s: pd.DataFrame())
    assert isinstance(cached, PriceData) and len(cached.frame) == len(axp)
