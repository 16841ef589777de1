"""Sensor logs (or any table) from CSV or parquet files.

`load_file` reads the file, parses the time column and returns the named columns indexed by
time. Time zones: timestamps with an offset are converted to UTC; naive timestamps stay naive
unless `tz` is given (then they are localized to it and converted to UTC); a file mixing naive
and offset timestamps is refused.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecaster.errors import DataError


def load_file(path: str | Path, time_col: str | None = None, columns: list[str] | None = None,
              tz: str | None = None, sep: str | None = None, decimal: str | None = None,
              ambiguous: str = "infer", nonexistent: str = "raise") -> pd.DataFrame:
    """Read a CSV (optionally compressed) or parquet file into a time-indexed frame.

    `time_col` defaults to the first column. `columns` (targets and features) are kept in order;
    all other columns are dropped. Validation of values happens in `forecaster.data.frame`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}; check the --csv path")
    try:
        if path.suffix == ".parquet":
            raw = pd.read_parquet(path)
            if time_col is None and isinstance(raw.index, pd.DatetimeIndex):
                raw = raw.reset_index()
        else:
            raw = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; give a CSV with a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"cannot read {path}: {first}; save it as UTF-8 CSV or parquet") from None
    if raw.empty or len(raw.columns) < 2:
        raise DataError(f"{path} has no data rows or fewer than 2 columns; it needs a time column "
                        "and at least one value column, with a header row")
    if _looks_like_data(raw.columns):
        raise DataError(f"{path} has no header row (its first line is {', '.join(map(str, raw.columns))}); "
                        "add a line of column names, e.g. ts,temp")
    time_col = time_col or str(raw.columns[0])
    wanted = [time_col, *(columns or [])]
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise DataError(f"{path} has no column {missing[0]!r}; its columns are "
                        f"{', '.join(map(str, raw.columns))} (use --time-col / --target / --features)")
    index = parse_times(raw[time_col], tz=tz, what=f"{path}:{time_col}")
    keep = columns if columns else [c for c in raw.columns if c != time_col]
    frame = raw[keep].set_axis(index, axis=0)
    return frame


def parse_times(values: pd.Series, tz: str | None = None, what: str = "time column") -> pd.DatetimeIndex:
    """Parse timestamps; offsets -> UTC, naive stay naive (or localized to `tz`)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        index = pd.DatetimeIndex(values)
    else:
        text = values.astype("string")
        has_offset = text.str.contains(r"(?:[+-]\d\d:?\d\d|Z)\s*$", regex=True, na=False)
        if has_offset.any() and not has_offset[text.notna()].all():
            raise DataError(f"{what} mixes timestamps with and without a time zone; write all of "
                            "them with an offset (e.g. 2024-01-01T00:00:00+00:00) or none")
        try:
            index = pd.DatetimeIndex(pd.to_datetime(values, utc=bool(has_offset.any()), format="mixed"))
        except (ValueError, TypeError, OverflowError) as err:
            bad = _first_unparseable(values)
            raise DataError(f"{what} has an unparseable timestamp {bad!r}; use ISO 8601 such as "
                            "2024-01-31 13:00:00") from err
    if index.isna().any():
        raise DataError(f"{what} has {int(index.isna().sum())} empty timestamps; fill or drop those rows")
    if tz is not None:
        index = index.tz_localize(tz) if index.tz is None else index.tz_convert(tz)
        index = index.tz_convert("UTC")
    elif index.tz is not None:
        index = index.tz_convert("UTC")
    return index.rename(values.name)


def _looks_like_data(columns: pd.Index) -> bool:
    """A header whose first name is a timestamp and all others numbers is a data row."""
    names = [str(c) for c in columns]
    try:
        pd.Timestamp(names[0])
        [float(n) for n in names[1:]]
    except (ValueError, TypeError):
        return False
    return True


def _first_unparseable(values: pd.Series) -> str:
    for v in values:
        try:
            pd.Timestamp(v)
        except (ValueError, TypeError):
            return str(v)
    return str(values.iloc[0])
