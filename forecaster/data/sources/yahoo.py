"""Prices from Yahoo Finance through yfinance, cached on disk.

`fetch_prices` is the only function here that touches the network. Its result has the shape
of the embedded stocks: adjusted OHLCV, float64, tz-naive for daily bars.

Cache: one parquet file per (ticker, interval) under `$FORECASTER_CACHE_DIR/yahoo/` (default:
the user cache directory, e.g. `~/.cache/forecaster`). A fresh entry is reused without a
download; if a download fails for lack of network, a stale entry is used and a warning says so.
"""

from __future__ import annotations

import logging
import os
import re
import time
import warnings
from pathlib import Path

import pandas as pd
from filelock import FileLock
from platformdirs import user_cache_dir

from forecaster._io import atomic_write
from forecaster.errors import SourceError
from forecaster.data.sources.embedded import PRICE_COLUMNS, to_price_frame

TICKER_RE = re.compile(r"^[A-Za-z0-9.^=-]{1,20}$")
INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h", "1d", "5d", "1wk", "1mo", "3mo")
# How far back Yahoo serves each bar size (yfinance refuses longer periods).
_PERIOD_FOR = {"1m": "7d", "2m": "60d", "5m": "60d", "15m": "60d", "30m": "60d",
               "60m": "730d", "90m": "60d", "1h": "730d"}
_NETWORK_HINTS = ("curl", "resolve", "connect", "timed out", "timeout", "network",
                  "failed to get ticker", "name or service", "ssl")


class OfflineWarning(UserWarning):
    """Yahoo could not be reached and cached prices were used instead."""


def cache_dir() -> Path:
    """`$FORECASTER_CACHE_DIR`, or the platform's user cache directory for forecaster."""
    return Path(os.environ.get("FORECASTER_CACHE_DIR") or user_cache_dir("forecaster"))


def check_ticker(ticker: str) -> str:
    """Return the upper-cased ticker, or raise if it could escape a path or is not a symbol."""
    if not isinstance(ticker, str) or not TICKER_RE.match(ticker):
        raise SourceError(f"invalid ticker {ticker!r}: use 1-20 letters, digits or . ^ = - "
                          "(for example AAPL, BRK-B, ^GSPC, EURUSD=X)")
    return ticker.upper()


def fetch_prices(ticker: str, interval: str = "1d", max_age_hours: float | None = None,
                 offline: bool = False) -> pd.DataFrame:
    """Adjusted OHLCV for one ticker, from the cache while fresh, else from Yahoo.

    Raises SourceError for an unknown ticker, an empty or all-NaN download, or no network and
    no cache. `offline=True` never touches the network.
    """
    symbol = check_ticker(ticker)
    if interval not in INTERVALS:
        raise SourceError(f"unknown interval {interval!r}; choose one of {', '.join(INTERVALS)}")
    intraday = interval[-1] in "mh"
    if max_age_hours is None:
        max_age_hours = 0.25 if intraday else 12.0
    path = cache_dir() / "yahoo" / f"{symbol}_{interval}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)

    with FileLock(str(path) + ".lock", timeout=300):
        cached = _read_cache(path)
        if cached is not None and (offline or _age_hours(path) < max_age_hours):
            return cached
        if offline:
            raise SourceError(f"no cached prices for {symbol} ({interval}) and --offline was given; "
                              "run once with network access, or use --dataset or --csv")
        try:
            frame = _download(symbol, interval, intraday)
        except _Unreachable as err:
            if cached is None:
                raise SourceError(f"cannot reach Yahoo Finance for {symbol} ({err}) and nothing is "
                                  "cached; connect to the network, or use an embedded --dataset "
                                  "(see `forecaster datasets`) or your own --csv") from None
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
            warnings.warn(f"offline: using prices for {symbol} cached on {stamp} ({path})",
                          OfflineWarning, stacklevel=2)
            return cached
        atomic_write(path, lambda tmp: frame.to_parquet(tmp))
        return frame


class _Unreachable(Exception):
    pass


class _ErrorLog(logging.Handler):
    """Collects what yfinance logs at ERROR level: `download` reports failures only there."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _download(symbol: str, interval: str, intraday: bool) -> pd.DataFrame:
    import yfinance as yf

    yf.set_tz_cache_location(str(cache_dir() / "yfinance"))
    logger = logging.getLogger("yfinance")
    errors = _ErrorLog()
    logger.addHandler(errors)
    # yfinance swallows transport errors by default, so that offline looks like "delisted";
    # with hide_exceptions off, download() logs the real cause, which we classify below.
    hide = yf.config.debug.hide_exceptions
    yf.config.debug.hide_exceptions = False
    try:
        raw = yf.download(symbol, period=_PERIOD_FOR.get(interval, "max"), interval=interval,
                          auto_adjust=True, progress=False, threads=False)
    except Exception as err:  # yfinance raises transport errors from some code paths
        if _is_network(str(err)) or _is_network(type(err).__name__):
            raise _Unreachable(f"{type(err).__name__}: {str(err).splitlines()[0][:120]}") from err
        raise
    finally:
        yf.config.debug.hide_exceptions = hide
        logger.removeHandler(errors)

    frame = _flatten(raw, symbol) if raw is not None else pd.DataFrame()
    if frame.empty or frame["Close"].isna().all():
        reason = _reason(errors.messages)
        if _is_network(reason):
            raise _Unreachable(reason or "no response")
        detail = f" (Yahoo said: {reason})" if reason else ""
        raise SourceError(f"Yahoo Finance has no prices for {symbol!r}{detail}; check the symbol "
                          "on finance.yahoo.com (it may be delisted), or use --dataset or --csv")
    frame = frame.dropna(subset=["Close"])
    if not intraday:
        return to_price_frame(frame)
    out = frame[PRICE_COLUMNS].astype("float64")
    out.index = pd.DatetimeIndex(out.index).tz_convert("UTC").rename("Date")
    return out


def _flatten(raw: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """yfinance's (Price, Ticker) MultiIndex columns -> one level of price names."""
    if isinstance(raw.columns, pd.MultiIndex):
        level = next((i for i, names in enumerate(raw.columns.levels) if "Close" in names), 0)
        tickers = {c[1 - level] for c in raw.columns} if raw.columns.nlevels == 2 else set()
        if len(tickers) > 1:
            raw = raw.xs(symbol, axis=1, level=1 - level)
        else:
            raw = raw.droplevel([i for i in range(raw.columns.nlevels) if i != level], axis=1)
    missing = [c for c in PRICE_COLUMNS if c not in raw.columns]
    if raw.empty or missing:
        return pd.DataFrame(columns=PRICE_COLUMNS, dtype="float64")
    return raw


def _reason(messages: list[str]) -> str:
    """yfinance's failure log ("1 Failed download:", "['X']: Error('...')") -> one short line."""
    lines = [ln.strip() for m in messages for ln in m.splitlines()]
    lines = [re.sub(r"^\[[^\]]*\]:\s*|^\$?[A-Z0-9.^=-]+:\s*", "", ln) for ln in lines
             if ln and not re.match(r"^\d+ Failed downloads?:", ln)]
    return "; ".join(dict.fromkeys(lines))[:200]


def _is_network(text: str) -> bool:
    low = text.lower()
    return any(h in low for h in _NETWORK_HINTS)


def _read_cache(path: Path) -> pd.DataFrame | None:
    """The cached frame, or None if there is none or it is unreadable (then it is removed)."""
    if not path.exists():
        return None
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # a corrupt entry is dropped and fetched again
        warnings.warn(f"cache entry {path} is unreadable ({type(err).__name__}); fetching again",
                      stacklevel=3)
        path.unlink(missing_ok=True)
        return None
    if list(frame.columns) != PRICE_COLUMNS or frame.empty:
        path.unlink(missing_ok=True)
        return None
    return frame


def _age_hours(path: Path) -> float:
    return (time.time() - path.stat().st_mtime) / 3600.0
