"""What a saved folder's run.json must hold before a page is built from it, and how it is read.

A page formats dozens of run.json's fields; one of the wrong type (a ``summary`` that is a string,
``null`` or missing, a Sharpe ratio that is text) would end in a traceback halfway through. Each
field a page reads is checked first, and a wrong one is a one-line ``SavedRunError`` naming the file
and the field. The file itself is read only if it is a regular file of at most ``MAX_JSON_BYTES``
(a FIFO, a device or a huge file is refused, not read), and JSON nested too deeply is refused too.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

MAX_JSON_BYTES = 64 << 20  # a portfolio run's run.json over 500 tickers is about 200 KB

# What each kind of field must be: the Python types it may have, and how a message says it.
KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "text": ((str,), "text"),
    "number": ((int, float), "a number"),
    "count": ((int,), "a whole number"),
    "table": ((dict,), "a JSON object"),
    "list": ((list,), "a JSON list"),
}
METRICS = ("total_return", "cagr", "sharpe", "max_drawdown")


class _Missing:
    pass


MISSING = _Missing()


def plain_file(path: Path, error: type[Exception], hint: str) -> None:
    """Raise ``error`` (one line naming ``path``) unless it is a regular file: reading a FIFO would hang,
    a device never end. A missing file is left to the reader (it says so in its own words)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror}); {hint}.") from None
    if not stat.S_ISREG(mode):
        raise error(f"{path}: not a regular file (a folder, FIFO or device); {hint}.")


def check_numbers(path: Path, frame: pd.DataFrame, text: Iterable[str], error: type[Exception]) -> None:
    """Raise ``error`` (one line naming ``path`` and the column) unless every column of ``frame`` but ``text``
    holds numbers: a table edited into words would otherwise end in a traceback while its page is built."""
    if frame.empty:  # a run without trades: its empty columns have no type
        return
    for column in frame.columns:
        if column not in text and not pd.api.types.is_numeric_dtype(frame[column]):
            raise error(f"{path}: column {column} holds values that are not numbers; the file is damaged.")


def read_json(path: Path, error: type[Exception], hint: str) -> Any:
    """``path``'s JSON, read only if it is a regular file of at most MAX_JSON_BYTES (``error`` otherwise,
    and for JSON that is not valid or nested too deeply); FileNotFoundError is the caller's."""
    plain_file(path, error, hint)
    with open(path, "rb") as handle:
        data = handle.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise error(f"{path}: larger than {MAX_JSON_BYTES >> 20} MiB, too large for a {path.name}; {hint}.")
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise error(f"{path}: JSON nested too deeply to be a {path.name}; {hint}.") from None
    except (ValueError, UnicodeDecodeError):
        raise error(f"{path}: not valid JSON (truncated or damaged); {hint}.") from None


def _lookup(meta: Any, dotted: str) -> Any:
    value = meta
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


def _describe(value: Any) -> str:
    if value is MISSING:
        return "it is missing"
    if value is None:
        return "it is null"
    shown = json.dumps(value) if isinstance(value, (str, int, float, bool)) else type(value).__name__
    return f"it is {shown[:40]}"


def check_fields(path: Path, meta: Mapping[str, Any], fields: Iterable[tuple[str, str]], *,
                 error: type[Exception], hint: str) -> None:  # fmt: skip
    """Each ``(dotted.name, kind)`` of ``fields`` is in ``meta`` and of that kind (a kind ending in ``?``
    may also be null or missing); else ``error`` naming ``path`` and the first wrong field."""
    for dotted, kind in fields:
        value = _lookup(meta, dotted)
        optional = kind.endswith("?")
        types, words = KINDS[kind.rstrip("?")]
        if optional and (value is None or value is MISSING):
            continue
        if not isinstance(value, types) or isinstance(value, bool):
            raise error(f"{path}: field {dotted} must be {words}{' or null' if optional else ''}, but "
                        f"{_describe(value)}; the file is damaged, {hint}.")  # fmt: skip


def metric_fields(columns: Iterable[str]) -> list[tuple[str, str]]:
    """The performance fields of ``summary`` for each return column a page shows."""
    return [(f"summary.{col}.{name}", "number") for col in columns for name in METRICS]


RUN_FIELDS = [
    ("config", "table"), ("config.strategy", "table"), ("config.strategy.name", "text"),
    ("config.forecast", "table"), ("config.forecast.model", "text"),
    ("data", "table"), ("data.ticker", "text"), ("data.source", "text"), ("data.last_date", "text"),
    ("data.repaired_rows", "count?"), ("data.repair_bars", "text?"), ("benchmark", "table"),
    ("benchmark.ticker", "text"), ("period", "table"), ("period.first_day", "text"), ("period.last_day", "text"),
    ("summary", "table"), ("summary.trades", "count"), ("summary.psr_vs_zero", "number"),
    ("summary.psr_vs_buy_and_hold", "number"), ("versions", "table"),
    *metric_fields(("strategy", "buy_and_hold")),
]  # fmt: skip
FORECAST_FIELDS = [("summary.forecast_rmse", "number"), ("summary.naive_rmse", "number"),
                   ("summary.rmse_ratio", "number"), ("summary.dm_p_value", "number")]  # fmt: skip
PORTFOLIO_FIELDS = [
    ("config", "table"), ("config.strategy", "table"), ("config.strategy.name", "text"),
    ("config.strategy.size", "number"), ("config.strategy.threshold", "number"),
    ("config.forecast", "table"), ("config.forecast.model", "text"),
    ("portfolio", "table"), ("portfolio.k", "count"), ("portfolio.weighting", "text"),
    ("portfolio.n_drop", "count?"), ("portfolio.max_turnover", "number?"),
    ("universe", "table?"), ("universe.name", "text?"), ("universe.missing", "list?"),
    ("benchmark", "table"), ("benchmark.ticker", "text"), ("period", "table"), ("period.first_day", "text"),
    ("period.last_day", "text"), ("versions", "table"),
    ("summary", "table"), ("summary.trades", "count"), ("summary.tickers", "count"), ("summary.left_out", "count"),
    ("summary.psr_vs_zero", "number"), ("summary.psr", "table"), ("summary.activity", "table"),
]  # fmt: skip
ACTIVITY = ("fills", "refused", "turnover_per_year", "commission", "slippage", "costs_fraction")


def portfolio_column_fields(columns: Iterable[str], activity: Iterable[str]) -> list[tuple[str, str]]:
    """A portfolio's per-column fields: performance, PSR against each comparison, and each rule's activity."""
    columns = list(columns)
    return [*metric_fields(columns), *((f"summary.psr.{col}", "number") for col in columns if col != "strategy"),
            *((f"summary.activity.{rule}", "table") for rule in activity),
            *((f"summary.activity.{rule}.{name}", "number") for rule in activity for name in ACTIVITY)]  # fmt: skip
