"""Price files as vendors write them, made from the bundled AAPL (and GS) prices: each layout reads back
to the canonical frame, to the precision the file carries, with one notice line saying how it was read;
what a file leaves open is a one-line refusal; bars that break the rules are refused or clipped."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.config import DataConfig
from backtests.data import BUNDLED_DIR, PRICE_COLUMNS, load_prices, read_price_csv, ticker_prices
from backtests.data.prices import PriceData, read_price_file, reading_notice
from backtests.errors import ConfigError, DataError

from .conftest import SHARED_DATA

AAPL = load_prices("AAPL").frame
AAPL_TEXT = (BUNDLED_DIR / "AAPL.csv").read_text()
HEADER, *ROWS = AAPL_TEXT.splitlines()
HUBB = SHARED_DATA / "universe" / "stocks" / "HUBB.csv.gz"


def loaded(path: Path, **kwargs: object) -> tuple[PriceData, list[str]]:
    """``load_prices`` of a --csv file, and the notices it gave."""
    said: list[str] = []
    data = load_prices("AAPL", csv=path, notify=said.append, **kwargs)  # type: ignore[arg-type]
    assert all("\n" not in line for line in said)
    return data, said


def assert_close(frame: pd.DataFrame, expected: pd.DataFrame, prices: float, volume: float = 0.5) -> None:
    """Same rows and canonical columns; values within what the file's rounding allows (absolute)."""
    assert list(frame.columns) == list(PRICE_COLUMNS) and (frame.dtypes == np.float64).all()
    assert frame.index.equals(expected.index) and frame.index.name == "date"
    for name in PRICE_COLUMNS:
        tolerance = volume if name == "volume" else prices
        gap = (frame[name] - expected[name]).abs()
        assert (gap <= tolerance).all(), f"{name}: {gap.max()} > {tolerance}"


def one_line_error(call: Callable[[], object], *parts: str) -> str:
    with pytest.raises(DataError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, message
    return message


def written(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def vendor_rows(frame: pd.DataFrame, cells: Callable[[pd.Timestamp, pd.Series], list[str]], sep: str) -> list[str]:
    return [sep.join(cells(day, bar)) for day, bar in frame.iterrows()]


# Layouts that are read, each with its notice


def test_newest_first_is_reversed(tmp_path: Path) -> None:
    path = written(tmp_path / "aapl.csv", "\n".join([HEADER, *ROWS[::-1]]) + "\n")
    data, said = loaded(path)
    pd.testing.assert_frame_equal(data.frame, AAPL)
    assert said == [f"read {path} as comma-separated, newest first (reversed)"]
    assert data.source == f"csv {path}" and data.repaired == 0


def test_plain_file_says_nothing(tmp_path: Path) -> None:
    data, said = loaded(written(tmp_path / "aapl.csv", AAPL_TEXT))
    pd.testing.assert_frame_equal(data.frame, AAPL)
    assert said == []


def test_tab_separated(tmp_path: Path) -> None:
    path = written(tmp_path / "aapl.tsv", AAPL_TEXT.replace(",", "\t"))
    data, said = loaded(path)
    pd.testing.assert_frame_equal(data.frame, AAPL)
    assert said == [f"read {path} as tab-separated"]


def test_utf16_tab_separated_as_excel_saves_unicode_text(tmp_path: Path) -> None:
    path = written(tmp_path / "aapl.txt", AAPL_TEXT.replace(",", "\t").replace("\n", "\r\n"), "utf-16")
    assert path.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    data, said = loaded(path)
    pd.testing.assert_frame_equal(data.frame, AAPL)
    assert said == [f"read {path} as tab-separated, UTF-16"]


def test_utf8_with_byte_order_mark(tmp_path: Path) -> None:
    path = written(tmp_path / "aapl.csv", AAPL_TEXT, "utf-8-sig")
    data, said = loaded(path)
    pd.testing.assert_frame_equal(data.frame, AAPL)
    assert said == [f"read {path} as comma-separated, UTF-8 with a byte-order mark"]


def test_semicolons_decimal_commas_german_names_newest_first(tmp_path: Path) -> None:
    def cells(day: pd.Timestamp, bar: pd.Series) -> list[str]:
        prices = [f"{bar[c]:.6f}".replace(".", ",") for c in ("open", "high", "low", "close")]
        return [f"{day:%d.%m.%Y}", *prices, f"{bar['volume']:,.0f}".replace(",", ".")]

    lines = ["Datum;Eröffnung;Hoch;Tief;Schluss;Volumen", *vendor_rows(AAPL.iloc[::-1], cells, ";")]
    path = written(tmp_path / "aapl_de.csv", "\n".join(lines) + "\n")
    data, said = loaded(path)
    assert_close(data.frame, AAPL, prices=5e-7)
    assert said == [f"read {path} as semicolon-separated with decimal commas and '.' thousands separators, "
                    "'Datum' as date, 'Eröffnung' as open, 'Hoch' as high, 'Tief' as low, 'Schluss' as close, "
                    "'Volumen' as volume, day/month/year dates, newest first (reversed)"]  # fmt: skip


def test_french_spaces_group_thousands(tmp_path: Path) -> None:
    recent = AAPL.iloc[-300:]

    def cells(day: pd.Timestamp, bar: pd.Series) -> list[str]:
        prices = [f"{bar[c]:.2f}".replace(".", ",") for c in ("open", "high", "low", "close")]
        return [f"{day:%d/%m/%Y}", *prices, f"{bar['volume']:,.0f}".replace(",", "\u202f")]

    lines = ["Date;Ouverture;Plus haut;Plus bas;Clôture;Volume", *vendor_rows(recent, cells, ";")]
    path = written(tmp_path / "aapl_fr.csv", "\n".join(lines) + "\n")
    data, said = loaded(path)
    assert_close(data.frame, recent, prices=0.005 + 1e-9)
    assert said == [f"read {path} as semicolon-separated with decimal commas and space thousands separators, "
                    "'Ouverture' as open, 'Plus haut' as high, 'Plus bas' as low, 'Clôture' as close, "
                    "day/month/year dates"]  # fmt: skip


def test_nasdaq_close_last_dollars_month_first_newest_first(tmp_path: Path) -> None:
    def cells(day: pd.Timestamp, bar: pd.Series) -> list[str]:
        return [f"{day:%m/%d/%Y}", f"${bar['close']:.4f}", f"{bar['volume']:.0f}",
                *(f"${bar[c]:.4f}" for c in ("open", "high", "low"))]  # fmt: skip

    lines = ["Date,Close/Last,Volume,Open,High,Low", *vendor_rows(AAPL.iloc[::-1], cells, ",")]
    path = written(tmp_path / "HistoricalData_AAPL.csv", "\n".join(lines) + "\n")
    data, said = loaded(path)
    assert_close(data.frame, AAPL, prices=5e-5 + 1e-12)
    assert said == [f"read {path} as comma-separated, 'Close/Last' as close, '$' signs dropped, "
                    "month/day/year dates, newest first (reversed)"]  # fmt: skip


def test_investing_price_and_suffixed_volumes_with_bom(tmp_path: Path) -> None:
    def volume(v: float) -> str:
        unit, scale = next(((u, s) for u, s in (("B", 1e9), ("M", 1e6), ("K", 1e3)) if v >= s), ("", 1.0))
        return f"{v / scale:.2f}{unit}"

    def cells(day: pd.Timestamp, bar: pd.Series) -> list[str]:
        prices = [f"{bar[c]:,.2f}" for c in ("close", "open", "high", "low")]
        return [f'"{v}"' for v in (f"{day:%m/%d/%Y}", *prices, volume(bar["volume"]), "0.52%")]

    lines = ['"Date","Price","Open","High","Low","Vol.","Change %"', *vendor_rows(AAPL.iloc[::-1], cells, ",")]
    path = written(tmp_path / "AAPL Historical Data.csv", "\n".join(lines) + "\n", "utf-8-sig")
    data, said = loaded(path)
    assert_close(data.frame, AAPL, prices=0.005 + 1e-9, volume=5e6)  # 2.19B: to 10 million
    ratio = (data.frame["volume"] / AAPL["volume"] - 1).abs()
    assert ratio.max() < 0.005  # every volume to its three significant digits
    assert said == [f"read {path} as comma-separated, UTF-8 with a byte-order mark, 'Price' as close, "
                    "'Vol.' as volume, K/M/B volume suffixes expanded, month/day/year dates, "
                    "newest first (reversed)"]  # fmt: skip


def test_yahoo_website_table_with_adjusted_close(tmp_path: Path) -> None:
    recent, dividends = AAPL.iloc[-250:], 1.004  # Close* is before dividends, Adj Close** after

    def cells(day: pd.Timestamp, bar: pd.Series) -> list[str]:
        prices = [f"{bar[c] * dividends:.2f}" for c in ("open", "high", "low", "close")]
        return [f'"{day:%b %d, %Y}"', *prices, f"{bar['close']:.2f}", f'"{bar["volume"]:,.0f}"']

    lines = ["Date,Open,High,Low,Close*,Adj Close**,Volume", *vendor_rows(recent.iloc[::-1], cells, ",")]
    path = written(tmp_path / "AAPL_yahoo.csv", "\n".join(lines) + "\n")
    data, said = loaded(path)
    assert_close(data.frame, recent, prices=0.02)
    np.testing.assert_allclose(data.frame["close"], recent["close"], atol=0.005 + 1e-9, rtol=0)
    assert said == [f"read {path} as comma-separated with ',' thousands separators, newest first (reversed)"]


def test_wsj_adj_dot_close_and_two_digit_years(tmp_path: Path) -> None:
    recent = AAPL.iloc[-200:]

    def cells(day: pd.Timestamp, bar: pd.Series) -> list[str]:
        prices = [f"{bar[c]:.2f}" for c in ("open", "high", "low", "close", "close")]
        return [f"{day:%m/%d/%y}", *prices, f"{bar['volume']:.0f}"]

    lines = ["Date, Open, High, Low, Close, Adj. Close, Volume", *vendor_rows(recent.iloc[::-1], cells, ", ")]
    path = written(tmp_path / "AAPL_wsj.csv", "\n".join(lines) + "\n")
    data, said = loaded(path)
    assert_close(data.frame, recent, prices=0.005 + 1e-9)
    assert said == [f"read {path} as comma-separated, month/day/year dates, newest first (reversed)"]


def test_month_names_even_from_may(tmp_path: Path) -> None:
    since_may = AAPL.loc["2026-05-01":]  # "May" is a whole month name too: "%B" must not be taken for "%b"

    def cells(day: pd.Timestamp, bar: pd.Series) -> list[str]:
        return [f"{day:%d-%b-%Y}", *(repr(float(bar[c])) for c in PRICE_COLUMNS)]

    path = written(tmp_path / "may.csv", "\n".join([HEADER, *vendor_rows(since_may.iloc[::-1], cells, ",")]))
    data, said = loaded(path)
    pd.testing.assert_frame_equal(data.frame, since_may)
    assert said == [f"read {path} as comma-separated, newest first (reversed)"]


def test_dollars_with_thousands_separators(tmp_path: Path) -> None:
    gs = load_prices("GS").frame.iloc[-60:]
    assert gs["close"].max() > 1000

    def cells(day: pd.Timestamp, bar: pd.Series) -> list[str]:
        return [f"{day:%Y-%m-%d}", *(f'"${bar[c]:,.2f}"' for c in ("open", "high", "low", "close")),
                f'"{bar["volume"]:,.0f}"']  # fmt: skip

    path = written(tmp_path / "gs.csv", "\n".join([HEADER, *vendor_rows(gs, cells, ",")]) + "\n")
    assert "$1," in path.read_text()
    data, said = loaded(path)
    assert_close(data.frame, gs, prices=0.005 + 1e-9)
    assert said == [f"read {path} as comma-separated with ',' thousands separators, '$' signs dropped"]


def test_gzip_and_notice_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "aapl.csv.gz"
    path.write_bytes(gzip.compress("\n".join([HEADER, *ROWS[::-1]]).encode("utf-16")))
    data, said = loaded(path)
    pd.testing.assert_frame_equal(data.frame, AAPL)
    assert said == [f"read {path} as comma-separated, UTF-16, newest first (reversed)"]


def test_read_price_file_alone_returns_how_it_read(tmp_path: Path) -> None:
    path = written(tmp_path / "a.csv", "\n".join([HEADER, *ROWS[:3][::-1]]))
    file = read_price_file(path)
    assert file.reading == ("newest first (reversed)",) and len(file.repaired) == 0
    assert reading_notice(file) == f"read {path} as comma-separated, newest first (reversed)"
    assert reading_notice(read_price_file(written(tmp_path / "b.csv", "\n".join([HEADER, *ROWS[:3]])))) is None


def test_read_price_csv_stays_the_strict_canonical_reader(tmp_path: Path) -> None:
    path = written(tmp_path / "newest.csv", "\n".join([HEADER, *ROWS[:6][::-1]]))
    one_line_error(lambda: read_price_csv(path), "dates ascending")  # the cache and bundled files stay strict


# What a file leaves open: one line saying what to change


def test_dates_that_read_both_ways_are_refused(tmp_path: Path) -> None:
    rows = [f"{d:%m/%d/%Y},{r.open},{r.high},{r.low},{r.close},{r.volume:.0f}" for d, r in AAPL.iloc[:6].iterrows()]
    path = written(tmp_path / "short.csv", "\n".join([HEADER, *rows]))  # 01/02/2004 .. 01/09/2004
    message = one_line_error(lambda: loaded(path), str(path), "'01/02/2004'", "day/month/year",
                             "month/day/year", "on every row", "YYYY-MM-DD")  # fmt: skip
    assert message.count(";") == 1
    longer = [f"{d:%m/%d/%Y},{r.open},{r.high},{r.low},{r.close},{r.volume:.0f}" for d, r in AAPL.iloc[:9].iterrows()]
    data, said = loaded(written(tmp_path / "long.csv", "\n".join([HEADER, *longer])))  # 01/13/2004 decides
    assert_close(data.frame, AAPL.iloc[:9], prices=1e-12) and said[0].endswith("month/day/year dates")


@pytest.mark.parametrize("layout", ["one column", "date and time columns"])
def test_intraday_rows_are_refused_with_resampling_advice(tmp_path: Path, layout: str) -> None:
    day, bar = AAPL.index[-1], AAPL.iloc[-1]
    values = f"{bar.open},{bar.high},{bar.low},{bar.close},{bar.volume / 4:.0f}"
    if layout == "one column":
        lines = [HEADER] + [f"{day:%Y-%m-%d} {h:02}:30:00,{values}" for h in (9, 10, 11, 12)]
    else:
        lines = ["Date,Time,Open,High,Low,Close,Volume"] + [f"{day:%Y-%m-%d},{h:02}:30,{values}" for h in (9, 10, 11)]
    path = written(tmp_path / "bars_1h.csv", "\n".join(lines))
    one_line_error(lambda: loaded(path), str(path), f"day {day:%Y-%m-%d}", "09:30, 10:30", "intraday",
                   "resample it to daily bars")  # fmt: skip


def test_neither_ascending_nor_descending_keeps_todays_message(tmp_path: Path) -> None:
    path = written(tmp_path / "shuffled.csv", "\n".join([HEADER, *ROWS[:3][::-1], *ROWS[3:6]]))
    one_line_error(lambda: loaded(path), "row 2004-01-05", "earlier than the row before (2004-01-06)",
                   "dates ascending")  # fmt: skip
    dup = written(tmp_path / "dup.csv", "\n".join([HEADER, *(ROWS[:5] + ROWS[4:8])[::-1]]))
    one_line_error(lambda: loaded(dup), "row 2004-01-08", "date appears twice", "dates unique")


@pytest.mark.parametrize(("cells", "parts"), [
    (('"0,5"', "0.75"), ["'0.75' and '0,5'", "different decimal marks"]),
    (('"1,234"', '"1,235"'), ["'1,234'", "decimal mark or a thousands separator"]),
    (('"1,234.5"', '"1.234,5"'), ["the opposite way"]),
])  # fmt: skip
def test_numbers_whose_decimal_mark_is_unclear_are_refused(tmp_path: Path, cells: tuple[str, str],
                                                           parts: list[str]) -> None:  # fmt: skip
    lines = [HEADER, f"2020-01-02,{cells[0]},2000,1,{cells[0]},10", f"2020-01-03,{cells[1]},2000,1,{cells[1]},10"]
    path = written(tmp_path / "marks.csv", "\n".join(lines))
    one_line_error(lambda: loaded(path), str(path), *parts, "'.' decimal mark")


def test_dates_beyond_nanosecond_timestamps_are_refused_by_both_readers(tmp_path: Path) -> None:
    path = written(tmp_path / "far.csv", "\n".join([HEADER, ROWS[0], "2696" + ROWS[1][4:]]))  # a typo in a year
    for read in (read_price_csv, read_price_file):
        one_line_error(partial(read, path), str(path), "line 3", "'2696-01-05' is outside 1678 to 2261", "dates parse")


def test_text_in_an_unknown_encoding_is_refused(tmp_path: Path) -> None:
    path = written(tmp_path / "latin.csv", "\n".join([HEADER.replace("volume", "volume £"), *ROWS[:3]]), "cp1252")
    one_line_error(lambda: loaded(path), str(path), "not UTF-8 or UTF-16 text", "save it as UTF-8")


# Bars that break the rules: refused, or clipped with repair_bars="clip"


@pytest.mark.skipif(not HUBB.is_file(), reason="../shared/data/universe is not here")
def test_hubb_bad_bar_refused_then_clipped() -> None:
    one_line_error(lambda: load_prices("HUBB", csv=HUBB), "row 2021-05-05", "low 180.517 is above open 180.305",
                   "low <= min(open, close)")  # fmt: skip
    said: list[str] = []
    data = load_prices("HUBB", csv=HUBB, repair_bars="clip", notify=said.append)
    plain = pd.read_csv(HUBB, index_col="date", parse_dates=["date"])
    assert data.repaired == 1 and data.source == f"csv {HUBB}"
    assert said == [f"repair_bars = clip: changed 1 row of {HUBB} (high raised to max(open, close) or low "
                    "lowered to min(open, close)): 2021-05-05"]  # fmt: skip
    assert data.frame.loc["2021-05-05", "low"] == 180.305  # min(open, close)
    changed = (data.frame != plain.astype("float64")).any(axis=1)
    assert list(changed[changed].index) == [pd.Timestamp("2021-05-05")]


def test_bundled_rows_with_broken_bars_clipped_through_the_config(tmp_path: Path) -> None:
    rows = list(ROWS)
    for i, (column, factor) in ((100, ("high", 0.9)), (2000, ("low", 1.1)), (5000, ("high", 0.5))):
        cells = rows[i].split(",")
        at = 2 if column == "high" else 3
        cells[at] = repr(float(cells[at]) * factor)
        rows[i] = ",".join(cells)
    path = written(tmp_path / "aapl_broken.csv", "\n".join([HEADER, *rows[::-1]]))
    one_line_error(lambda: loaded(path), f"row {AAPL.index[100]:%Y-%m-%d}", "high >= max(open, close)")
    said: list[str] = []
    data = ticker_prices(DataConfig("AAPL", csv=str(path), repair_bars="clip"), notify=said.append)
    dates = AAPL.index[[100, 2000, 5000]]
    assert data.repaired == 3 and len(said) == 2 and said[0].endswith("newest first (reversed)")
    assert said[1] == (f"repair_bars = clip: changed 3 rows of {path} (high raised to max(open, close) or low "
                       f"lowered to min(open, close)): {', '.join(f'{d:%Y-%m-%d}' for d in dates)}")  # fmt: skip
    bars = AAPL.loc[dates]
    expected = AAPL.copy()
    expected.loc[dates[[0, 2]], "high"] = np.maximum(bars["open"], bars["close"]).iloc[[0, 2]].to_numpy()
    expected.loc[dates[1], "low"] = min(bars["open"].iloc[1], bars["close"].iloc[1])
    pd.testing.assert_frame_equal(data.frame, expected)


def test_repair_policy_is_checked() -> None:
    with pytest.raises(ConfigError, match="repair_bars"):
        DataConfig("AAPL", repair_bars="fix")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="repair_bars"):
        load_prices("AAPL", repair_bars="fix")  # type: ignore[arg-type]
    assert DataConfig("AAPL").repair_bars == "refuse"
    assert load_prices("AAPL", source="bundled", repair_bars="clip").repaired == 0
