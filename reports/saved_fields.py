"""What a saved folder's run.json must hold before a page is built from it, and how it is read.

A page formats dozens of run.json's fields; one of the wrong type (a ``summary`` that is a string,
``null`` or missing, a Sharpe ratio that is text) would end in a traceback halfway through. Each
field a page reads is checked first, and a wrong one is a one-line ``SavedRunError`` naming the file
and the field. The file itself is read only if it is a regular file of at most ``MAX_JSON_BYTES``
(a FIFO, a device or a huge file is refused, not read), and JSON nested too deeply is refused too;
a saved table is read only if it is a regular file of at most ``BT_MAX_FILE_MB`` (default 64) MiB.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .safe_read import MAX_ENV, FileTooLarge, JsonTooDeep, NotRegularFile, max_file_bytes, read_capped, read_json_capped

MAX_JSON_BYTES = 64 << 20  # a portfolio run's run.json over 500 tickers is about 200 KB
MAX_JSON_DEPTH = 64  # bt's own files nest about 5 levels

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


def _refusal(path: Path, exc: OSError, error: type[Exception], hint: str, what: str) -> Exception:
    """``exc`` (met reading ``path``) as one line of ``error``; FileNotFoundError is the caller's."""
    if isinstance(exc, NotRegularFile):
        return error(f"{path}: not a regular file (it is {exc.kind}); {hint}.")
    if isinstance(exc, FileTooLarge):
        return error(f"{path}: larger than {exc.cap / (1 << 20):g} MiB, too large for {what}; {hint}.")
    return error(f"{path}: cannot be read ({exc.strerror or exc}); {hint}.")


def read_table(path: Path, error: type[Exception], hint: str, **options: Any) -> pd.DataFrame:
    """``pd.read_csv(path, **options)`` of a regular file of at most ``BT_MAX_FILE_MB`` (default 64) MiB: a FIFO,
    device or huge (even sparse) table is one line of ``error``, never read, and so is one pandas cannot parse;
    FileNotFoundError is the caller's."""
    try:
        cap = max_file_bytes()
    except ValueError as exc:
        raise error(str(exc)) from None
    try:
        data = read_capped(path, cap)
    except FileNotFoundError:
        raise
    except FileTooLarge as exc:
        raise error(f"{path}: larger than {exc.cap / (1 << 20):g} MiB, the limit on a table bt reads; set {MAX_ENV} "
                    f"to a larger number of MiB to read it, or {hint}.") from None  # fmt: skip
    except OSError as exc:
        raise _refusal(path, exc, error, hint, "a table") from None
    try:
        return pd.read_csv(io.BytesIO(data), **options)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise error(f"{path}: unreadable ({' '.join(str(exc).split())[:120]}).") from None


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
    try:
        return read_json_capped(path, MAX_JSON_BYTES, max_depth=MAX_JSON_DEPTH)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _refusal(path, exc, error, hint, f"a {path.name}") from None
    except JsonTooDeep:
        raise error(f"{path}: JSON nested too deeply to be a {path.name}; {hint}.") from None
    except ValueError:  # not JSON, not UTF-8
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
        parts = dotted.split(".")
        for depth in range(1, len(parts)):  # a parent that is there but is not an object: name the parent
            parent = _lookup(meta, ".".join(parts[:depth]))
            if parent is not MISSING and parent is not None and not isinstance(parent, dict):
                raise error(f"{path}: field {'.'.join(parts[:depth])} must be a JSON object, but "
                            f"{_describe(parent)}; the file is damaged, {hint}.")  # fmt: skip
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
