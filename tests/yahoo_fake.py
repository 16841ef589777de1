"""A fake of Yahoo's HTTP layer only: yfinance's own request building and parsing run for real.

`YfData.get` is replaced; it answers the chart endpoint with a payload in Yahoo's v8 format
built from the embedded (unadjusted) CSV, a 404 chart error for unknown symbols, or raises a
connection error to simulate no network.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources

from pathlib import Path

import pandas as pd


class FakeResponse:
    def __init__(self, payload: dict, status_code: int = 200, url: str = "https://example.invalid/"):
        self._payload = payload
        self.status_code = status_code
        self.url = url
        self.text = json.dumps(payload)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}")

    def json(self) -> dict:
        return self._payload


def raw_stock(symbol: str) -> pd.DataFrame:
    """The embedded CSV as shipped: unadjusted OHLC, Volume, Adj Close."""
    path = resources.files("forecaster.data.sources").joinpath("data", f"stock_{symbol}.csv.gz")
    with path.open("rb") as fh:
        return pd.read_csv(gzip.open(fh), parse_dates=["Date"])


def chart_payload(symbol: str, raw: pd.DataFrame) -> dict:
    # Daily bars are stamped at the 09:30 New York open, as Yahoo does.
    opens = (raw["Date"].dt.tz_localize("America/New_York") + pd.Timedelta(hours=9, minutes=30))
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    stamps = [int((t - epoch) // pd.Timedelta(seconds=1)) for t in opens]
    def col(name: str) -> list:
        return [None if pd.isna(v) else float(v) for v in raw[name]]
    return {"chart": {"result": [{
        "meta": {"currency": "USD", "symbol": symbol, "exchangeName": "NMS",
                 "fullExchangeName": "NasdaqGS", "instrumentType": "EQUITY",
                 "firstTradeDate": stamps[0], "regularMarketTime": stamps[-1],
                 "hasPrePostMarketData": True, "gmtoffset": -18000, "timezone": "EST",
                 "exchangeTimezoneName": "America/New_York", "priceHint": 2,
                 "dataGranularity": "1d", "range": "",
                 "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]},
        "timestamp": stamps,
        "indicators": {"quote": [{"open": col("Open"), "high": col("High"), "low": col("Low"),
                                  "close": col("Close"), "volume": [int(v) for v in raw["Volume"]]}],
                       "adjclose": [{"adjclose": col("Adj Close")}]},
    }], "error": None}}


NOT_FOUND = {"chart": {"result": None, "error": {
    "code": "Not Found", "description": "No data found, symbol may be delisted"}}}


def install(monkeypatch, known: dict[str, pd.DataFrame], network: bool = True,
            log: Path | None = None) -> list[str]:
    """Patch yfinance's HTTP layer; return the list of URLs requested (for assertions). With
    `log`, every request is also appended to that file, so forked processes are counted too."""
    import yfinance.data

    calls: list[str] = []

    def fake_get(self, url, params=None, timeout=30):
        calls.append(url)
        if log is not None:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(url + "\n")
        if not network:
            raise ConnectionError("Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com")
        symbol = url.rstrip("/").rsplit("/", 1)[-1]
        if "/v8/finance/chart/" in url and symbol in known:
            return FakeResponse(chart_payload(symbol, known[symbol]), url=url)
        return FakeResponse(NOT_FOUND, status_code=404, url=url)

    monkeypatch.setattr(yfinance.data.YfData, "get", fake_get)
    monkeypatch.setattr(yfinance.data.YfData, "cache_get", fake_get)
    return calls
