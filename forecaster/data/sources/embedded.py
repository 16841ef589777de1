"""Real datasets shipped inside the package, usable offline.

The stocks come out in exactly the shape `fetch_prices` returns: adjusted daily OHLCV
(Open, High, Low, Close multiplied by Adj Close / Close, as yfinance's `auto_adjust=True`),
float64, indexed by a tz-naive DatetimeIndex named "Date". The sensor logs come out as float64
columns indexed by their time column (UTC, or tz-naive where the source gives no time zone).

ETTh1.csv.gz is the published ETTh1.csv (github.com/zhouhaoyi/ETDataset, CC BY-ND 4.0:
redistributed unchanged) gzipped losslessly: it decompresses byte for byte to the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import pandas as pd

from forecaster.errors import DataError

PRICE_COLUMNS = ["Open", "High", "Low", "Close", "Volume"]


@dataclass(frozen=True)
class Dataset:
    name: str
    file: str
    kind: str  # "price" or "sensor"
    description: str
    target: list[str]
    features: list[str] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)
    time_col: str = "timestamp"  # sensors: the time column of the file
    utc: bool = True  # sensors: the times are UTC (else tz-naive, as the source gives them)


STOCK_UNITS = {c: "USD, adjusted" for c in ["Open", "High", "Low", "Close"]} | {"Volume": "shares"}

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset("aapl", "stock_AAPL.csv.gz", "price", "Apple daily prices 2000-03-01..2013-03-01 (Quandl WIKI)",
                ["Close"], ["Open", "High", "Low", "Volume"], STOCK_UNITS),
        Dataset("goog", "stock_GOOG.csv.gz", "price", "Google daily prices 2004-08-19..2013-03-01 (Quandl WIKI)",
                ["Close"], ["Open", "High", "Low", "Volume"], STOCK_UNITS),
        Dataset("ibm", "stock_IBM.csv.gz", "price", "IBM daily prices 2000-03-01..2013-03-01 (Quandl WIKI)",
                ["Close"], ["Open", "High", "Low", "Volume"], STOCK_UNITS),
        Dataset("msft", "stock_MSFT.csv.gz", "price", "Microsoft daily prices 2000-03-01..2013-03-01 (Quandl WIKI)",
                ["Close"], ["Open", "High", "Low", "Volume"], STOCK_UNITS),
        # pressure is left out of the default inputs: its runs of up to 9 missing hours would
        # split the series and cost every window across them (add it with --features).
        Dataset("jfk-weather", "sensor_jfk_weather_2013.csv.gz", "sensor",
                "JFK airport weather station, hourly 2013, UTC (NOAA ISD)",
                ["temp"], ["dewp", "humid", "wind_speed"],
                {"temp": "°F", "dewp": "°F", "humid": "%", "wind_dir": "degrees",
                 "wind_speed": "mph", "precip": "inches", "pressure": "hPa", "visib": "miles"}),
        # The long-horizon (LTSF) benchmark: oil temperature from the six loads, hourly, tz-naive as published.
        Dataset("etth1", "ETTh1.csv.gz", "sensor",
                "Electricity transformer 1, hourly 2016-07-01..2018-06-26 (ETT, Zhou et al. 2021)",
                ["OT"], ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL"],
                {"OT": "°C"} | {c: "MW" for c in ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL"]},
                time_col="date", utc=False),
    ]
}
DEFAULT_DATASET = "aapl"


def list_datasets() -> pd.DataFrame:
    """One row per embedded dataset: name, kind, rows, columns, description."""
    rows = []
    for d in DATASETS.values():
        frame = load_dataset(d.name)
        rows.append({"name": d.name, "kind": d.kind, "rows": len(frame),
                     "start": frame.index[0], "end": frame.index[-1],
                     "target": ",".join(d.target), "columns": ",".join(frame.columns),
                     "description": d.description})
    return pd.DataFrame(rows).set_index("name")


def get_dataset(name: str) -> Dataset:
    try:
        return DATASETS[name.lower()]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)} "
                        "(see `forecaster datasets`)") from None


def load_dataset(name: str) -> pd.DataFrame:
    """Load an embedded dataset by name (`aapl`, `goog`, `ibm`, `msft`, `jfk-weather`, `etth1`)."""
    d = get_dataset(name)
    compression = "gzip" if d.file.endswith(".gz") else None
    with resources.files("forecaster.data.sources").joinpath("data", d.file).open("rb") as fh:
        raw = pd.read_csv(fh, compression=compression)
    if d.kind == "price":
        return adjust_prices(raw.set_index(pd.to_datetime(raw.pop("Date"))))
    index = pd.to_datetime(raw.pop(d.time_col), utc=d.utc)
    frame = raw.set_index(pd.DatetimeIndex(index, name=d.time_col)).astype("float64")
    return frame


def adjust_prices(raw: pd.DataFrame) -> pd.DataFrame:
    """Unadjusted OHLC + 'Adj Close' -> adjusted OHLCV, the shape every price source returns.

    Same arithmetic as yfinance's `auto_adjust`: OHLC times Adj Close / Close, volume unchanged.
    """
    ratio = raw["Adj Close"] / raw["Close"]
    out = pd.DataFrame({c: raw[c] * ratio for c in ["Open", "High", "Low"]}, index=raw.index)
    out["Close"] = raw["Adj Close"]
    out["Volume"] = raw["Volume"]
    return to_price_frame(out)


def to_price_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns in PRICE_COLUMNS order, float64, tz-naive DatetimeIndex named 'Date'."""
    out = frame[PRICE_COLUMNS].astype("float64")
    index = pd.DatetimeIndex(out.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    out.index = index.as_unit("ns").rename("Date")
    out.columns.name = None
    return out
