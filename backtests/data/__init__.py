"""Prices: the bundled files, a user's CSV or Yahoo Finance (cached), validated at the boundary.

``prices`` reads and checks files, ``yahoo`` talks to the network, ``loading`` resolves a
run's ``DataConfig``; the bundled CSVs live in ``bundled/``.
"""

from .loading import benchmark_prices, benchmark_returns, ticker_prices
from .prices import (
    BUNDLED_DIR,
    PRICE_COLUMNS,
    Downloader,
    PriceData,
    bundled_tickers,
    default_cache_dir,
    load_prices,
    read_price_csv,
    require_rows,
    validate_prices,
    yahoo_downloader,
)

__all__ = [
    "BUNDLED_DIR",
    "PRICE_COLUMNS",
    "Downloader",
    "PriceData",
    "benchmark_prices",
    "benchmark_returns",
    "bundled_tickers",
    "default_cache_dir",
    "load_prices",
    "read_price_csv",
    "require_rows",
    "ticker_prices",
    "validate_prices",
    "yahoo_downloader",
]
