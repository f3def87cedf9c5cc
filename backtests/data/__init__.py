"""Prices: the bundled files, a user's CSV or Yahoo Finance (cached), validated at the boundary.

``prices`` reads and checks files, ``yahoo`` talks to the network, ``loading`` resolves a
run's ``DataConfig``, ``universe`` names multi-ticker universes and S&P 500 membership; the bundled
CSVs (plain or gzip) live in ``bundled/``, the universe lists in ``bundled/universe/``.
"""

from .loading import benchmark_prices, benchmark_returns, ticker_prices
from .prices import (
    BUNDLED_DIR,
    PRICE_COLUMNS,
    Downloader,
    PriceData,
    PriceFile,
    bundled_tickers,
    default_cache_dir,
    load_prices,
    read_price_csv,
    read_price_file,
    reading_notice,
    require_rows,
    validate_prices,
    yahoo_downloader,
)
from .universe import (
    MEMBERSHIP_KNOWN_THROUGH,
    UNIVERSES,
    Universe,
    download_missing,
    is_member,
    membership,
    membership_mask,
    membership_span,
    parse_tickers,
    tickers_from_file,
    universe,
)

__all__ = [
    "BUNDLED_DIR",
    "MEMBERSHIP_KNOWN_THROUGH",
    "PRICE_COLUMNS",
    "UNIVERSES",
    "Downloader",
    "PriceData",
    "PriceFile",
    "Universe",
    "benchmark_prices",
    "benchmark_returns",
    "bundled_tickers",
    "default_cache_dir",
    "download_missing",
    "is_member",
    "load_prices",
    "membership",
    "membership_mask",
    "membership_span",
    "parse_tickers",
    "read_price_csv",
    "read_price_file",
    "reading_notice",
    "require_rows",
    "ticker_prices",
    "tickers_from_file",
    "universe",
    "validate_prices",
    "yahoo_downloader",
]
