"""backtests.data on real prices: bundled files, Yahoo's CSV layout, validation, the Yahoo cache."""

from __future__ import annotations

import random
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from backtests.data import (
    BUNDLED_DIR,
    PRICE_COLUMNS,
    PriceData,
    bundled_tickers,
    default_cache_dir,
    load_prices,
    read_price_csv,
    require_rows,
    validate_prices,
    yahoo_downloader,
)
from backtests.errors import ConfigError, DataError, NetworkError

from .conftest import yahoo_resolves

YAHOO_AAPL = Path(__file__).resolve().parents[2] / "shared" / "data" / "yahoo_format" / "AAPL.csv"
AAPL_LINES = (BUNDLED_DIR / "AAPL.csv").read_text().splitlines()
HEADER, ROWS = AAPL_LINES[0], AAPL_LINES[1:]
# sha256 of the canonical bundled AAPL frame; changes only if the data or the serialisation does.
AAPL_FINGERPRINT = "8abb8806bc857e4b9740ab317369b05509fe7f016dcd5f465086f538137ccc2b"
BASE_FULL = load_prices("AAPL").frame


@pytest.fixture(scope="module")
def aapl_bundled() -> PriceData:
    return load_prices("AAPL")


def write_csv(folder: Path, lines: list[str], name: str = "prices.csv") -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def one_line_error(call: Callable[[], object], *parts: str) -> str:
    with pytest.raises(DataError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and message.strip() == message
    for part in parts:
        assert part in message, message
    return message


def assert_canonical(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(PRICE_COLUMNS)
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "date"
    assert frame.index.tz is None and frame.index.is_monotonic_increasing and frame.index.is_unique


# Bundled data


def test_bundled_aapl_loads_whole_history(aapl_bundled: PriceData) -> None:
    assert aapl_bundled.ticker == "AAPL" and aapl_bundled.source == "bundled AAPL.csv"
    assert len(aapl_bundled.frame) == 5690
    assert aapl_bundled.first_date == pd.Timestamp("2004-01-02")
    assert aapl_bundled.last_date == pd.Timestamp("2026-08-14")
    assert_canonical(aapl_bundled.frame)


def test_bundled_tickers_and_lower_case_ticker() -> None:
    assert {"AAPL", "MSFT", "SPY"} <= set(bundled_tickers()) and len(bundled_tickers()) == 40  # + dow30, sectors
    assert load_prices("msft", source="bundled").ticker == "MSFT"


def test_spy_extra_columns_are_dropped() -> None:
    spy = load_prices("SPY")
    assert list(spy.frame.columns) == list(PRICE_COLUMNS)
    assert len(spy.frame) == 7957 and spy.first_date == pd.Timestamp("1995-01-03")


def test_fingerprint_is_stable_and_sensitive(aapl_bundled: PriceData) -> None:
    again = load_prices("AAPL")
    assert again.fingerprint == aapl_bundled.fingerprint == AAPL_FINGERPRINT
    nudged = again.frame.copy()
    nudged.iloc[100, 3] = np.nextafter(nudged.iloc[100, 3], np.inf)
    assert PriceData("AAPL", nudged, "test").fingerprint != AAPL_FINGERPRINT


def test_require_rows_names_ticker_source_counts_and_why(aapl_bundled: PriceData) -> None:
    require_rows(aapl_bundled, 5690, why="training")
    one_line_error(lambda: require_rows(aapl_bundled, 6000, why="the first training window"),
                   "AAPL", "bundled AAPL.csv", "5690 rows", "6000", "the first training window")  # fmt: skip


# Yahoo's download layout


@pytest.fixture(scope="module")
def yahoo_aapl() -> pd.DataFrame:
    if not YAHOO_AAPL.is_file():
        pytest.skip(f"{YAHOO_AAPL} is not there")
    return read_price_csv(YAHOO_AAPL)


def test_yahoo_layout_uses_adjusted_close(yahoo_aapl: pd.DataFrame) -> None:
    raw = pd.read_csv(YAHOO_AAPL, index_col="Date", parse_dates=True)
    assert_canonical(yahoo_aapl)
    assert len(yahoo_aapl) == 3018
    np.testing.assert_array_equal(yahoo_aapl["close"].to_numpy(), raw["Adj Close"].to_numpy())
    ratio = raw["Adj Close"] / raw["Close"]
    np.testing.assert_allclose(yahoo_aapl["open"].to_numpy(), (raw["Open"] * ratio).to_numpy(), rtol=1e-12)


def test_yahoo_layout_agrees_with_bundled(yahoo_aapl: pd.DataFrame, aapl_bundled: PriceData) -> None:
    bundled = aapl_bundled.frame.loc[yahoo_aapl.index]
    for column in ("open", "high", "low", "close"):
        ratio = bundled[column] / yahoo_aapl[column]
        assert ratio.mean() == pytest.approx(0.99822, abs=5e-6)
        assert ratio.max() - ratio.min() < 1e-5, column


def test_no_jump_at_the_2014_split(yahoo_aapl: pd.DataFrame, aapl_bundled: PriceData) -> None:
    day, after = pd.Timestamp("2014-06-06"), pd.Timestamp("2014-06-09")
    assert yahoo_aapl.loc[day, "close"] == pytest.approx(20.24, abs=0.01)  # Adj Close, not Close 23.06
    both = yahoo_aapl.loc[[day, after], "close"] / aapl_bundled.frame.loc[[day, after], "close"]
    assert both.iloc[0] == pytest.approx(both.iloc[1], rel=1e-6)
    assert abs(yahoo_aapl.loc[after, "open"] / yahoo_aapl.loc[day, "close"] - 1) < 0.05


# Flexible headers


def test_headers_are_case_insensitive_and_extra_columns_dropped(tmp_path: Path) -> None:
    lines = [" DATE , Open,HIGH,low , Close,VOLUME,Note"] + [f"{row},real" for row in ROWS[:20]]
    frame = read_price_csv(write_csv(tmp_path, lines))
    expected = read_price_csv(write_csv(tmp_path, [HEADER, *ROWS[:20]], "plain.csv"))
    pd.testing.assert_frame_equal(frame, expected)


@pytest.mark.parametrize("name", ["Datetime", "timestamp", "Date"])
def test_date_column_aliases(tmp_path: Path, name: str) -> None:
    frame = read_price_csv(write_csv(tmp_path, [HEADER.replace("date", name), *ROWS[:5]]))
    assert frame.index[0] == pd.Timestamp("2004-01-02") and len(frame) == 5


def test_yfinance_history_to_csv_with_daylight_saving_offsets(tmp_path: Path) -> None:
    rows = [r for r in ROWS if r.startswith(("2020-03-06", "2020-03-09"))]  # DST began 2020-03-08
    offsets = {"2020-03-06": " 00:00:00-05:00", "2020-03-09": " 00:00:00-04:00"}
    lines = ["Date,Open,High,Low,Close,Volume,Dividends,Stock Splits"]
    lines += [f"{r[:10]}{offsets[r[:10]]}{r[10:]},0.0,0.0" for r in rows]
    frame = read_price_csv(write_csv(tmp_path, lines))
    assert list(frame.index) == [pd.Timestamp("2020-03-06"), pd.Timestamp("2020-03-09")]


def test_yfinance_download_to_csv_three_line_header(tmp_path: Path) -> None:
    lines = ["Price,Open,High,Low,Close,Volume", "Ticker,AAPL,AAPL,AAPL,AAPL,AAPL", "Date,,,,,", *ROWS[:3]]
    frame = read_price_csv(write_csv(tmp_path, lines))
    assert len(frame) == 3 and frame.index[0] == pd.Timestamp("2004-01-02")


# One rule per corruption, each on real rows

DATE, OPEN, HIGH, LOW, CLOSE, VOLUME = range(6)


def set_cell(row: int, column: int, value: Callable[[str], str]) -> Callable[[list[str]], list[str]]:
    def corrupt(rows: list[str]) -> list[str]:
        cells = rows[row].split(",")
        cells[column] = value(cells[column])
        return [*rows[:row], ",".join(cells), *rows[row + 1 :]]

    return corrupt


def bar(row: int, high: Callable[[list[float]], float] | None = None,
        low: Callable[[list[float]], float] | None = None) -> Callable[[list[str]], list[str]]:  # fmt: skip
    def corrupt(rows: list[str]) -> list[str]:
        cells = rows[row].split(",")
        o, c = float(cells[OPEN]), float(cells[CLOSE])
        if high:
            cells[HIGH] = repr(high([o, c]))
        if low:
            cells[LOW] = repr(low([o, c]))
        return [*rows[:row], ",".join(cells), *rows[row + 1 :]]

    return corrupt


CORRUPTIONS = {
    "unparseable date": (set_cell(3, DATE, lambda _: "2004-13-45"), ["line 5", "'2004-13-45'", "parse"]),
    "descending": (lambda rows: rows[::-1], ["row 2004-01-08", "(2004-01-09)", "dates ascending"]),
    "duplicate": (lambda rows: [*rows[:3], rows[2], *rows[3:]], ["row 2004-01-06", "dates unique"]),
    "negative price": (set_cell(2, OPEN, lambda v: "-" + v), ["row 2004-01-06", "open -", "not positive"]),
    "missing value": (set_cell(1, CLOSE, lambda _: ""), ["row 2004-01-05", "close is missing"]),
    "NaN": (set_cell(1, HIGH, lambda _: "NaN"), ["row 2004-01-05", "high is missing"]),
    "inf": (set_cell(4, LOW, lambda _: "inf"), ["row 2004-01-08", "low inf is not finite"]),
    "not a number": (set_cell(2, VOLUME, lambda _: "12x"), ["row 2004-01-06", "volume '12x' is not"]),
    "negative volume": (set_cell(0, VOLUME, lambda v: "-" + v), ["row 2004-01-02", "volume >= 0"]),
    "high < close": (bar(2, high=lambda oc: min(oc) * 0.99), ["row 2004-01-06", "high >= max(open, close)"]),
    "low > open": (bar(3, low=lambda oc: max(oc) * 1.01), ["row 2004-01-07", "low <= min(open, close)"]),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_each_rule_fails_with_one_line_naming_file_and_row(tmp_path: Path, case: str) -> None:
    corrupt, parts = CORRUPTIONS[case]
    path = write_csv(tmp_path, [HEADER, *corrupt(ROWS[:6])], f"{case.replace(' ', '_')}.csv")
    message = one_line_error(lambda: read_price_csv(path), str(path), *parts)
    assert "--csv" in message


def test_high_below_close_message_quotes_both_values(tmp_path: Path) -> None:
    lines = ["date,open,high,low,close,volume", "2020-03-04,10.0,10.1,9.9,10.5,1000"]
    message = one_line_error(lambda: read_price_csv(write_csv(tmp_path, lines, "AAPL.csv")))
    expected = ("AAPL.csv: row 2020-03-04: high 10.1 is below close 10.5 (rule: high >= max(open, close)); "
                "fix the file or pass another --csv")  # fmt: skip
    assert message.endswith(expected)


@pytest.mark.parametrize(("content", "part"), [
    (f"{HEADER.replace(',volume', '')}\n" + "\n".join(r.rsplit(",", 1)[0] for r in ROWS[:3]), "'volume'"),
    ("", "empty"),
    (HEADER + "\n", "no data rows"),
    ("\n\n\n", "empty"),
])  # fmt: skip
def test_unusable_files_fail_with_one_line(tmp_path: Path, content: str, part: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    one_line_error(lambda: read_price_csv(path), str(path), part)


@pytest.mark.parametrize("seed", range(12))
def test_garbage_fails_with_one_line(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    text = "".join(rng.choice('0123456789abcE.-:/,,"\n\r\t\x00 ') for _ in range(rng.randint(1, 400)))
    garbage = {0: rng.randbytes(3000), 1: text.encode(), 2: (HEADER + "\n" + text).encode()}[seed % 3]
    path = tmp_path / "garbage.csv"
    path.write_bytes(garbage)
    one_line_error(lambda: read_price_csv(path), str(path))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    one_line_error(lambda: read_price_csv(tmp_path / "nope.csv"), "nope.csv", "no such file")
    one_line_error(lambda: read_price_csv(tmp_path), str(tmp_path))


def test_validate_prices_rejects_a_tz_aware_or_unindexed_frame(aapl_bundled: PriceData) -> None:
    frame = aapl_bundled.frame.head(5)
    validate_prices(frame, source="ok")
    one_line_error(lambda: validate_prices(frame.tz_localize("UTC"), source="x"), "time zone")
    one_line_error(lambda: validate_prices(frame.reset_index(), source="x"), "not indexed by date")
    one_line_error(lambda: validate_prices(frame.iloc[:0], source="x"), "no data rows")


# Property: validation passes or raises DataError, and what passes obeys every rule
BASE = BASE_FULL.iloc[:200]
CELL_CHANGES = st.sampled_from([
    lambda v: v, lambda v: -v, lambda v: 0.0, lambda v: np.nan, lambda v: np.inf, lambda v: v * 1.02,
    lambda v: v * 0.98, lambda v: v * (1 + 1e-12), lambda v: "12x", lambda v: None,
])  # fmt: skip


def satisfies_every_rule(frame: pd.DataFrame) -> bool:
    x = frame[list(PRICE_COLUMNS)].astype("float64")
    o, h, lo, c, v = (x[col] for col in PRICE_COLUMNS)
    return bool(
        len(frame) >= 1 and frame.index.is_monotonic_increasing and frame.index.is_unique
        and np.isfinite(x.to_numpy()).all() and (x[["open", "high", "low", "close"]] > 0).all().all()
        and (v >= 0).all() and (h >= np.maximum(o, c) * (1 - 1e-9)).all()
        and (lo <= np.minimum(o, c) * (1 + 1e-9)).all()
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.integers(0, len(BASE) - 1), min_size=0, max_size=12),
    keep_order=st.booleans(),
    changes=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 4), CELL_CHANGES), max_size=4),
)
def test_validate_prices_property(rows: list[int], keep_order: bool, changes: list) -> None:
    frame = BASE.iloc[sorted(rows) if keep_order else rows].astype(object)
    for row, column, change in changes:
        if row < len(frame) and isinstance(frame.iat[row, column], float):
            frame.iat[row, column] = change(frame.iat[row, column])
    try:
        validate_prices(frame, source="property")
    except DataError as err:
        event("rejected")
        assert "\n" not in str(err) and str(err).startswith("property")
    else:
        event("accepted")
        assert satisfies_every_rule(frame)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.integers(0, 40), min_size=0, max_size=8),
    cuts=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 60), st.text(max_size=6)), max_size=3),
)
def test_read_price_csv_property(rows: list[int], cuts: list) -> None:
    lines = [ROWS[i] for i in rows]
    for row, at, text in cuts:
        if row < len(lines):
            lines[row] = lines[row][:at] + text + lines[row][at + len(text) :]
    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(Path(folder), [HEADER, *lines])
        try:
            frame = read_price_csv(path)
        except DataError as err:
            event("rejected")
            assert "\n" not in str(err) and str(path) in str(err)
        else:
            event("accepted")
            assert_canonical(frame)
            assert satisfies_every_rule(frame)


# The Yahoo path, with a fake downloader serving real AAPL rows as yfinance would


class FakeYahoo:
    """Serves bundled AAPL rows up to ``until`` in yfinance's layout (Close and Adj Close)."""

    def __init__(self, until: str, *, edit: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> None:
        real = BASE_FULL.loc[:until]
        factor = 1.25  # Close is split-adjusted only; Adj Close = Close / 1.25 here
        raw = pd.DataFrame({"Open": real["open"] * factor, "High": real["high"] * factor,
                            "Low": real["low"] * factor, "Close": real["close"] * factor,
                            "Adj Close": real["close"], "Volume": real["volume"]})  # fmt: skip
        raw.index = real.index.tz_localize("America/New_York").rename("Date")
        self.raw = edit(raw) if edit else raw
        self.calls: list[tuple[str, pd.Timestamp | None]] = []

    def __call__(self, ticker: str, start: pd.Timestamp | None) -> pd.DataFrame:
        self.calls.append((ticker, start))
        if start is None:
            return self.raw.copy()
        return self.raw[self.raw.index.tz_localize(None) >= start].copy()



def offline(ticker: str, start: pd.Timestamp | None) -> pd.DataFrame:
    raise NetworkError("no network (test)")


def cache_file(folder: Path, ticker: str = "ZZZ") -> Path:
    return folder / "prices" / f"{ticker}.csv"


def test_first_load_downloads_everything_and_writes_the_cache(tmp_path: Path) -> None:
    fake = FakeYahoo("2010-12-31")
    data = load_prices("zzz", cache_dir=tmp_path, downloader=fake)
    assert fake.calls == [("ZZZ", None)]
    assert data.source == f"Yahoo cache {cache_file(tmp_path)}"
    assert data.last_date == pd.Timestamp("2010-12-31")
    assert_canonical(data.frame)
    np.testing.assert_allclose(data.frame.to_numpy(), BASE_FULL.loc[:"2010-12-31"].to_numpy(), rtol=1e-12)
    pd.testing.assert_frame_equal(read_price_csv(cache_file(tmp_path)), data.frame)


def test_second_load_asks_from_five_days_before_the_cache_end_and_merges(tmp_path: Path) -> None:
    load_prices("ZZZ", cache_dir=tmp_path, downloader=FakeYahoo("2010-12-31"))

    def later_corrected(raw: pd.DataFrame) -> pd.DataFrame:
        raw.loc[raw.index.tz_localize(None) == "2010-12-31", "Volume"] = 1.0  # the finished bar
        return raw

    fake = FakeYahoo("2011-03-31", edit=later_corrected)
    messages: list[str] = []
    data = load_prices("ZZZ", cache_dir=tmp_path, downloader=fake, notify=messages.append)
    assert fake.calls == [("ZZZ", pd.Timestamp("2010-12-26"))]
    assert messages == []
    assert data.last_date == pd.Timestamp("2011-03-31") and data.frame.index.is_unique
    assert data.frame.loc["2010-12-31", "volume"] == 1.0
    assert len(data.frame) == len(BASE_FULL.loc[:"2011-03-31"])
    pd.testing.assert_frame_equal(read_price_csv(cache_file(tmp_path)), data.frame)


def test_readjusted_history_is_downloaded_again(tmp_path: Path) -> None:
    load_prices("ZZZ", cache_dir=tmp_path, downloader=FakeYahoo("2010-12-31"))

    def dividend(raw: pd.DataFrame) -> pd.DataFrame:
        return raw.assign(**{"Adj Close": raw["Adj Close"] * 0.99})

    fake = FakeYahoo("2011-03-31", edit=dividend)
    data = load_prices("ZZZ", cache_dir=tmp_path, downloader=fake)
    assert [start for _, start in fake.calls] == [pd.Timestamp("2010-12-26"), None]
    np.testing.assert_allclose(data.frame["close"], BASE_FULL.loc[:"2011-03-31", "close"] * 0.99, rtol=1e-12)


def test_no_network_with_a_cache_uses_it_and_says_through_when(tmp_path: Path) -> None:
    first = load_prices("ZZZ", cache_dir=tmp_path, downloader=FakeYahoo("2010-12-31"))
    before = cache_file(tmp_path).read_bytes()
    messages: list[str] = []
    data = load_prices("ZZZ", cache_dir=tmp_path, downloader=offline, notify=messages.append)
    assert messages == ["no network: using cached ZZZ data through 2010-12-31"]
    assert data.fingerprint == first.fingerprint  # the cache is lossless
    assert cache_file(tmp_path).read_bytes() == before


def test_connection_errors_count_as_no_network(tmp_path: Path) -> None:
    def refused(ticker: str, start: pd.Timestamp | None) -> pd.DataFrame:
        raise ConnectionRefusedError("refused")

    messages: list[str] = []
    data = load_prices("AAPL", source="yahoo", cache_dir=tmp_path, downloader=refused, notify=messages.append)
    assert data.source == "bundled AAPL.csv"
    assert messages == ["no network: using bundled AAPL data through 2026-08-14"]
    assert not (tmp_path / "prices").exists()


def test_no_network_no_cache_unknown_ticker(tmp_path: Path) -> None:
    with pytest.raises(NetworkError) as caught:
        load_prices("ZZZ", cache_dir=tmp_path, downloader=offline)
    message = str(caught.value)
    assert "\n" not in message and "ZZZ" in message and "--csv" in message


def test_empty_answer_means_unknown_ticker(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_prices("ZZZ", cache_dir=tmp_path, downloader=lambda t, s: pd.DataFrame())
    assert not isinstance(caught.value, NetworkError)
    assert "unknown ticker ZZZ" in str(caught.value) and "--csv" in str(caught.value)


def test_invalid_answer_leaves_the_cache_byte_identical(tmp_path: Path) -> None:
    load_prices("ZZZ", cache_dir=tmp_path, downloader=FakeYahoo("2010-12-31"))
    before = cache_file(tmp_path).read_bytes()

    def broken(raw: pd.DataFrame) -> pd.DataFrame:
        raw.iloc[-2, raw.columns.get_loc("High")] = raw["Low"].iloc[-2] * 0.5
        return raw

    fake = FakeYahoo("2011-03-31", edit=broken)
    one_line_error(lambda: load_prices("ZZZ", cache_dir=tmp_path, downloader=fake),
                   "Yahoo ZZZ download", "row 2011-03-30", "high >= max(open, close)")  # fmt: skip
    assert cache_file(tmp_path).read_bytes() == before
    assert [p.name for p in (tmp_path / "prices").iterdir()] == ["ZZZ.csv"]  # no temp file left


def test_yfinance_download_layout_with_multiindex_columns(tmp_path: Path) -> None:
    fake = FakeYahoo("2005-06-30")
    fake.raw.columns = pd.MultiIndex.from_product([fake.raw.columns, ["ZZZ"]], names=["Price", "Ticker"])
    data = load_prices("ZZZ", cache_dir=tmp_path, downloader=fake)
    np.testing.assert_allclose(data.frame.to_numpy(), BASE_FULL.loc[:"2005-06-30"].to_numpy(), rtol=1e-12)


def test_cache_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BT_CACHE_DIR", str(tmp_path / "moved"))
    assert default_cache_dir() == tmp_path / "moved"
    load_prices("ZZZ", downloader=FakeYahoo("2004-03-31"))
    assert cache_file(tmp_path / "moved").is_file()
    monkeypatch.delenv("BT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "bt-lstm"


def test_bad_ticker_source_and_missing_bundle() -> None:
    one_line_error(lambda: load_prices("../etc/passwd"), "not valid")
    one_line_error(lambda: load_prices("ZZZ", source="bundled"), "no bundled data for ticker ZZZ", "AAPL")
    with pytest.raises(ConfigError):
        load_prices("AAPL", source="web")  # type: ignore[arg-type]


def test_csv_argument_labels_with_the_ticker(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [HEADER, *ROWS[:10]])
    data = load_prices("mine", csv=path, source="yahoo", downloader=offline)
    assert data.ticker == "MINE" and data.source == f"csv {path}" and len(data.frame) == 10


# The real downloader: how it reads yfinance's answers, then the real thing offline


class FakeTicker:
    """Stands in for yfinance.Ticker: ``history`` raises ``error`` or sleeps ``sleep`` seconds."""

    error: Exception | None = None
    sleep = 0.0

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker

    def history(self, **kwargs: object) -> pd.DataFrame:
        assert kwargs["auto_adjust"] is False and kwargs["interval"] == "1d"
        time.sleep(self.sleep)
        if self.error is not None:
            raise self.error
        return FakeYahoo("2004-01-31").raw


def yfinance_errors() -> dict[str, tuple[Callable[[], Exception], type[Exception] | None]]:
    from curl_cffi.requests.exceptions import DNSError
    from yfinance import exceptions as yfe

    return {
        "dns": (lambda: DNSError("Could not resolve host: query2.finance.yahoo.com"), NetworkError),
        "timeout": (lambda: TimeoutError("timed out"), NetworkError),
        "rate limit": (lambda: yfe.YFRateLimitError(), NetworkError),
        "unknown ticker": (lambda: yfe.YFTzMissingError("ZZZQ"), None),
        "no prices": (lambda: yfe.YFPricesMissingError("ZZZQ", ""), None),
    }


@pytest.mark.parametrize("case", ["dns", "timeout", "rate limit", "unknown ticker", "no prices"])
def test_yahoo_downloader_reads_yfinance_errors(monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    import yfinance

    make, expected = yfinance_errors()[case]
    monkeypatch.setattr(FakeTicker, "error", make())
    monkeypatch.setattr(yfinance, "Ticker", FakeTicker)
    if expected is None:
        assert yahoo_downloader("ZZZQ", None).empty  # Yahoo answered: no such ticker
    else:
        with pytest.raises(expected, match="--csv"):
            yahoo_downloader("ZZZQ", None)
    assert yfinance.config.debug.hide_exceptions is True  # yfinance's setting is put back


def test_yahoo_downloader_returns_yfinance_frame(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import yfinance

    monkeypatch.setattr(yfinance, "Ticker", FakeTicker)
    data = load_prices("ZZZ", cache_dir=tmp_path)
    assert data.last_date == pd.Timestamp("2004-01-30") and len(data.frame) == 20


def test_yahoo_downloader_gives_up_at_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    import yfinance

    from backtests.data import yahoo as _yahoo

    monkeypatch.setattr(FakeTicker, "sleep", 1.0)
    monkeypatch.setattr(yfinance, "Ticker", FakeTicker)
    monkeypatch.setattr(_yahoo, "_DEADLINE_S", 0.1)
    monkeypatch.setattr(_yahoo, "_timed_out_at", None)
    started = time.monotonic()
    with pytest.raises(NetworkError, match="did not answer"):
        yahoo_downloader("AAPL", None)
    with pytest.raises(NetworkError, match="a moment ago"):  # no second wait for the benchmark
        yahoo_downloader("SPY", None)
    assert time.monotonic() - started < 0.9
    assert yfinance.config.debug.hide_exceptions is False  # the stuck call is still running
    for thread in threading.enumerate():
        if thread.name == "yahoo-AAPL":
            thread.join()
    assert yfinance.config.debug.hide_exceptions is True


# The real downloader, with no network on this machine


needs_offline = pytest.mark.skipif(yahoo_resolves(), reason="Yahoo Finance resolves; this tests offline")


@needs_offline
def test_real_downloader_offline_falls_back_to_bundled(tmp_path: Path) -> None:
    messages: list[str] = []
    started = time.monotonic()
    data = load_prices("AAPL", source="yahoo", cache_dir=tmp_path, notify=messages.append)
    assert time.monotonic() - started < 30
    assert data.source == "bundled AAPL.csv"
    assert messages == ["no network: using bundled AAPL data through 2026-08-14"]


@needs_offline
def test_real_downloader_offline_unknown_ticker_raises(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(NetworkError, match="--csv"):
        load_prices("ZZZQ", source="yahoo", cache_dir=tmp_path)
    with pytest.raises(NetworkError):
        yahoo_downloader("AAPL", pd.Timestamp("2026-01-02"))
    assert time.monotonic() - started < 30
