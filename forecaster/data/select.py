"""What a config names, loaded and validated: one series or several, by name.

`load_series` is the one entry: a ticker, an embedded dataset or a file give one series; a
comma list of tickers or datasets, a folder of files (one series per file) or a long-format
file with a series column give several. Each series is validated on its own
(`forecaster.data.frame`), under its own name.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.config import FitConfig, is_panel, names_in
from forecaster.data.frame import ValidFrame, validate_frame
from forecaster.data.static import encode_static, is_table, static_table
from forecaster.data.sources import fetch_prices, load_dataset, load_file
from forecaster.data.sources.embedded import DEFAULT_DATASET, get_dataset
from forecaster.data.sources.files import FILE_SUFFIXES
from forecaster.errors import ConfigError, DataError

PRICE_FEATURES = ["Open", "High", "Low", "Volume"]


def data_label(cfg: FitConfig) -> str:
    """A short name of the data, for titles and run folder names."""
    if cfg.ticker:
        names = [t.upper() for t in names_in(cfg.ticker)]
    elif cfg.csv:
        names = [Path(cfg.csv).stem]
    else:
        names = [d.lower() for d in names_in(cfg.dataset or DEFAULT_DATASET)]
    return "+".join(names) if len(names) <= 4 else f"{names[0]}+{len(names) - 1}-more"


def unit_label(cfg: FitConfig, targets: list[str]) -> str:
    """Axis label of the targets, with units where the data source knows them."""
    units: dict[str, str] = {}
    if cfg.ticker:
        units = {t: "adjusted" for t in targets if t != "Volume"}
    elif not cfg.csv:
        units = get_dataset(names_in(cfg.dataset or DEFAULT_DATASET)[0]).units
    return ", ".join(f"{t} ({units[t]})" if t in units else t for t in targets)


def load_series(cfg: FitConfig) -> dict[str, ValidFrame]:
    """Every series the config names, each validated on its own, by name. One series is named
    by its source (the ticker, the dataset or the file's stem)."""
    if not is_panel(cfg):
        return {data_label(cfg): load_data(cfg)}
    if cfg.series_col:
        return _long_format(cfg)
    return with_static(cfg, _several(cfg))


def with_static(cfg: FitConfig, frames: dict[str, ValidFrame], raw: pd.DataFrame | None = None,
                runs: list[tuple] | None = None) -> dict[str, ValidFrame]:
    """The frames with their encoded static attributes (`--static-features`, see
    `forecaster.data.static`)."""
    if not cfg.static_features:
        return frames
    encoded = encode_static(static_table(cfg.static_features, list(frames), raw, runs))
    return {name: replace(f, static=encoded[name]) for name, f in frames.items()}


def _several(cfg: FitConfig) -> dict[str, ValidFrame]:
    """The series of a folder, or of a list of tickers or datasets."""
    if cfg.csv:
        folder = Path(cfg.csv)
        files = sorted(f for f in folder.iterdir() if f.is_file() and f.name.endswith(FILE_SUFFIXES))
        if not files:
            raise DataError(f"folder {folder} holds no .csv, .csv.gz or .parquet file; put one file per "
                            "series in it")
        return {_stem(f): load_data(replace(cfg, csv=str(f))) for f in files}
    if cfg.ticker:
        return {t.upper(): load_data(replace(cfg, ticker=t)) for t in names_in(cfg.ticker)}
    return {d.lower(): load_data(replace(cfg, dataset=d)) for d in names_in(cfg.dataset)}


def load_data(cfg: FitConfig) -> ValidFrame:
    """The validated frame of one series: a ticker, a file or an embedded dataset."""
    raw, targets, features, kind = raw_data(cfg)
    inferred = None
    if kind is None:  # a file without --kind
        kind, inferred = infer_kind(raw, targets)
    frame = validate_frame(raw, targets, features, kind=kind, max_gap=cfg.max_gap, name=data_label(cfg),
                           future=cfg.future_features)
    if inferred:
        frame.notes.insert(0, inferred)
    return frame


PRICE_NAME = re.compile(r"^(adj[ ._]?)?(close|closing|price|last|settle(ment)?)([ ._]?price)?$", re.IGNORECASE)


def infer_kind(raw: pd.DataFrame, targets: list[str]) -> tuple[str, str | None]:
    """"price" for a file whose targets look like daily prices (named like Close, Adj Close or
    Price, strictly positive, one row per trading day or calendar day), else "sensor"; with the
    sentence saying what was inferred and how to override it."""
    named = all(PRICE_NAME.match(str(t).strip()) for t in targets)
    if not named or len(raw) < 3 or not isinstance(raw.index, pd.DatetimeIndex):
        return "sensor", None
    values = raw[targets].apply(pd.to_numeric, errors="coerce")
    positive = bool((values.dropna() > 0).all().all()) and values.notna().any().all()
    step = pd.Series(raw.index).diff().median()
    daily = pd.Timedelta(hours=20) <= step <= pd.Timedelta(days=4)  # trading days or calendar days
    if not (positive and daily):
        return "sensor", None
    return "price", (f"{', '.join(targets)} looks like a daily price (its name, strictly positive, one row "
                     "per day): modelled as a price (log returns, the exchange calendar for predict); "
                     "give --kind sensor to model it as a sensor log")


def raw_data(cfg: FitConfig, extra: tuple[str, ...] = ()
             ) -> tuple[pd.DataFrame, list[str], list[str], str | None]:
    """The raw frame the config names (a file also keeps the `extra` columns), its target and
    feature columns and its kind (None for a file without --kind: see `infer_kind`), before
    validation."""
    if cfg.ticker:
        raw = fetch_prices(cfg.ticker, interval=cfg.interval, offline=cfg.offline)
        targets = cfg.target or ["Close"]
        features = PRICE_FEATURES if cfg.features is None else cfg.features
        kind = cfg.kind or "price"
    elif cfg.csv:
        if not cfg.target:
            raise ConfigError(f"--csv needs --target: the column to forecast in {cfg.csv}")
        features = [f for f in cfg.features or [] if f.lower() != "none"]
        columns = list(dict.fromkeys([*extra, *cfg.target, *features, *(cfg.future_features or [])]))  # each once
        raw = load_file(cfg.csv, time_col=cfg.time_col, columns=columns, tz=cfg.tz,
                        sep=cfg.sep, decimal=cfg.decimal, ambiguous=cfg.ambiguous,
                        nonexistent=cfg.nonexistent)
        targets, kind = cfg.target, cfg.kind  # None: inferred from the data (load_data)
    else:
        ds = get_dataset(cfg.dataset or DEFAULT_DATASET)
        raw = load_dataset(ds.name)
        targets = cfg.target or ds.target
        features = ds.features if cfg.features is None else cfg.features
        kind = cfg.kind or ds.kind
    return raw, targets, [f for f in features if f.lower() != "none"], kind


def _stem(path: Path) -> str:
    return path.name.removesuffix(".gz").removesuffix(".csv").removesuffix(".parquet")


def _long_format(cfg: FitConfig) -> dict[str, ValidFrame]:
    static = () if is_table(cfg.static_features) else tuple(cfg.static_features or ())
    raw, targets, features, kind = raw_data(cfg, extra=(cfg.series_col, *static))
    if raw[cfg.series_col].isna().any():
        raise DataError(f"{cfg.csv}: column {cfg.series_col!r} has empty series names; fill them in")
    raw, runs = by_series(raw, cfg.series_col)
    inferred = None
    if kind is None:  # decided once for the file, on its first series
        kind, inferred = infer_kind(raw.iloc[runs[0][1]:runs[0][2]], targets)
    # Each series' rows are a slice of the file's frame (a view), made as it is validated and
    # let go: 10,000 slices held at once cost 50 MB.
    frames = {str(name): validate_frame(raw.iloc[a:b], targets, features, kind=kind, max_gap=cfg.max_gap,
                                        name=f"{Path(cfg.csv).stem}[{name}]", future=cfg.future_features)
              for name, a, b in runs}
    if inferred:
        next(iter(frames.values())).notes.insert(0, inferred)
    return with_static(cfg, frames, raw, [(str(name), a, b) for name, a, b in runs])


def by_series(raw: pd.DataFrame, column: str) -> tuple[pd.DataFrame, list[tuple]]:
    """The rows of a long-format frame grouped by series: the frame (itself where each series'
    rows are contiguous in the file, so each series is a slice of its columns, no copy; else
    one copy, grouped) and each series' (name, first row, end row), in the order of the names
    (as `groupby(sort=True)`), each series' rows in file order."""
    codes, names = pd.factorize(raw[column], sort=True)  # (T,) series number of each row
    first = np.r_[0, np.flatnonzero(codes[1:] != codes[:-1]) + 1]  # (R,) first row of each run
    if len(first) != len(names):  # a series in several runs: group the rows, stable
        order = np.argsort(codes, kind="stable")  # (T,)
        raw, codes = raw.iloc[order], codes[order]
        first = np.r_[0, np.flatnonzero(codes[1:] != codes[:-1]) + 1]
    end = np.r_[first[1:], len(raw)]
    by_name = np.argsort(codes[first])  # runs in the order of the names
    return raw, [(names[i], int(first[r]), int(end[r])) for i, r in enumerate(by_name)]
