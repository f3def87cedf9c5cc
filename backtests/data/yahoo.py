"""Yahoo Finance: the real downloader (yfinance is imported only when it is called) and the
incremental refresh of a cached price history.

Downloaders return the raw table as yfinance gives it; ``backtests.data`` passes in ``parse``,
the same code that reads CSV files, to turn it into the canonical adjusted layout.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, NetworkError

_TIMEOUT_S = 10
# yfinance's cookie and crumb requests ignore `timeout` (one waits 30 s), so on a network
# that drops packets a single history call measured 70 s; this caps the whole call.
_DEADLINE_S = 25.0
_timed_out_at: float | None = None  # after a timeout, fail at once for a minute (ticker, then benchmark)
_HINT = "check the connection or pass --csv PATH with a daily OHLCV file"
_OVERLAP_DAYS = 5

Parse = Callable[[pd.DataFrame], pd.DataFrame]
# (ticker, first day or None for the full history) -> the raw frame as yfinance returns it;
# raises NetworkError (or any OSError) when there is no network. Re-exported by backtests.data.
Downloader = Callable[[str, pd.Timestamp | None], pd.DataFrame]


def refresh_prices(name: str, cached: pd.DataFrame | None, download: Downloader, parse: Parse,
                   say: Callable[[str], None]) -> pd.DataFrame:  # fmt: skip
    """The cached rows updated with Yahoo's from a few days before their end; everything if no cache.

    Returns ``cached`` itself when there is nothing new. Raises NetworkError (or the
    downloader's OSError) without a network, DataError for an unknown ticker or a bad answer.
    """
    if cached is None:
        return _fetch(name, None, download, parse)
    last = cached.index[-1]
    fresh = _fetch(name, last - pd.Timedelta(days=_OVERLAP_DAYS), download, parse, empty_ok=True)
    if fresh is None:
        say(f"Yahoo returned no new {name} rows: using cached data through {last:%Y-%m-%d}")
        return cached
    # The cache's last bar may have been caught mid-session: it is replaced, not compared.
    settled = cached.index.intersection(fresh.index)
    settled = settled[settled < last]
    old, new = cached.loc[settled, "close"].to_numpy(), fresh.loc[settled, "close"].to_numpy()
    if settled.empty or not np.allclose(new, old, rtol=1e-6, atol=0):
        # A split or dividend since the last run re-adjusted all of history: take it all again.
        return _fetch(name, None, download, parse)
    return pd.concat([cached.drop(fresh.index, errors="ignore"), fresh]).sort_index()


def _fetch(name: str, start: pd.Timestamp | None, download: Downloader, parse: Parse,
           empty_ok: bool = False) -> pd.DataFrame | None:  # fmt: skip
    raw = download(name, start)
    if raw is None or len(raw) == 0:
        if empty_ok:
            return None
        raise DataError(f"unknown ticker {name}: Yahoo Finance has no daily prices for it; "
                        "check the symbol or pass --csv PATH with a daily OHLCV file")  # fmt: skip
    if not isinstance(raw, pd.DataFrame):
        raise DataError(f"Yahoo {name} download: expected a table, got {type(raw).__name__}; {_HINT}")
    return parse(raw)


def yahoo_downloader(ticker: str, start: pd.Timestamp | None) -> pd.DataFrame:
    """Daily bars of ``ticker`` from ``start`` (None: full history), with Close and Adj Close.

    Returns an empty frame when Yahoo answers that it has no data for the ticker, and
    raises ``NetworkError`` when Yahoo cannot be reached or does not answer in time.
    yfinance's own log lines, prints and warnings are silenced.
    """
    global _timed_out_at
    if _timed_out_at is not None and time.monotonic() - _timed_out_at < 60:
        raise NetworkError(f"Yahoo Finance did not answer a moment ago; {_HINT}")
    answer: dict[str, object] = {}

    def work() -> None:
        try:
            answer["frame"] = _history(ticker, start)
        except BaseException as err:  # handed to the calling thread below
            answer["error"] = err

    # A daemon thread, so that a call stuck past the deadline cannot hold the program open.
    thread = threading.Thread(target=work, name=f"yahoo-{ticker}", daemon=True)
    with _quiet():
        thread.start()
        thread.join(_DEADLINE_S)
    if thread.is_alive():
        _timed_out_at = time.monotonic()
        raise NetworkError(
            f"Yahoo Finance did not answer for {ticker} within {_DEADLINE_S:.0f} s; {_HINT}"
        )
    error = answer.get("error")
    if isinstance(error, BaseException):
        raise error
    return answer["frame"]


def _history(ticker: str, start: pd.Timestamp | None) -> pd.DataFrame:
    import yfinance as yf
    from yfinance import exceptions as yfe

    span = {"period": "max"} if start is None else {"start": f"{start:%Y-%m-%d}"}
    try:
        with _raising(yf.config.debug):
            return yf.Ticker(ticker).history(
                interval="1d", auto_adjust=False, actions=False, timeout=_TIMEOUT_S, **span
            )
    except yfe.YFTickerMissingError:
        return pd.DataFrame()
    except yfe.YFRateLimitError as err:
        raise NetworkError(f"Yahoo Finance is rate-limiting requests for {ticker}; {_HINT}") from err
    except (OSError, json.JSONDecodeError, yfe.YFDataException) as err:
        # requests' and curl_cffi's connection errors are OSErrors.
        reason = " ".join(str(err).split(". See ")[0].split())[:160] or type(err).__name__
        raise NetworkError(f"Yahoo Finance could not be reached for {ticker} ({reason}); {_HINT}") from err


_raising_lock = threading.Lock()
_raising_calls = 0
_hidden_before = True


@contextlib.contextmanager
def _raising(debug: Any) -> Iterator[None]:
    """Make yfinance raise network errors instead of logging them and answering an empty frame,
    which would look like an unknown ticker (it also skips its slow fallback requests).

    The global setting is restored when the last overlapping call ends, even if a call left
    behind by the deadline is still running.
    """
    global _raising_calls, _hidden_before
    with _raising_lock:
        if _raising_calls == 0:
            _hidden_before = debug.hide_exceptions
        _raising_calls += 1
        debug.hide_exceptions = False
    try:
        yield
    finally:
        with _raising_lock:
            _raising_calls -= 1
            if _raising_calls == 0:
                debug.hide_exceptions = _hidden_before


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence yfinance: its logger, anything it prints and its warnings."""
    logger = logging.getLogger("yfinance")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    sink = io.StringIO()
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
