"""Atomic file writes: write to a temporary file beside the target, then rename into place.

A crash never leaves a truncated file where a reader expects a whole one. `write_metrics_json`
writes valid JSON only (no NaN or Infinity tokens); `versioned_json` reads a JSON file that
declares its format; `write_csv` writes a frame of forecasts.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from forecaster.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)`, then move the temporary file onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def versioned_json(text: str, source: str, what: str, expected: int, consequence: str) -> dict:
    """The mapping a JSON file of `what` (e.g. "model-card") holds, checked to declare format
    `expected`; otherwise a one-line ConfigError naming the format found and `consequence`."""
    try:
        d = json.loads(text)
    except ValueError:
        raise ConfigError(f"{source} is missing or corrupt (not JSON); {consequence}") from None
    if not isinstance(d, dict) or d.get("format") != expected:
        fmt = d.get("format", "unknown") if isinstance(d, dict) else "unknown"
        version = d.get("forecaster_version", "?") if isinstance(d, dict) else "?"
        raise ConfigError(f"{source} is in {what} format {fmt} (written by forecaster {version}); this "
                          f"version reads format {expected}: {consequence} with this version")
    return d


CSV_CHUNK_ROWS = 250_000  # rows of a frame turned into text at a time (see write_csv)


def write_csv(path: str | os.PathLike, frame: pd.DataFrame, chunk_rows: int = CSV_CHUNK_ROWS) -> Path:
    """`frame` and its index as CSV at `path`, atomically: the columns and values of pandas'
    `to_csv`, written by Arrow's CSV writer, about 7 times faster (formatting floats is what
    costs: the 1.9 million rows of ETTh1's test forecasts at horizon 96 take pandas 19 s on
    2 cores, this 2.6 s; benchmarks/bench_write_csv.py). Timestamps keep pandas' text
    (formatted once per distinct value); missing values are empty fields. The text differs
    from pandas' only in the digits of a float ("3" for "3.0", "1.5e-7" for "1.5e-07": the
    same values read back) and, where a string holds a comma, quote or line break, in quotes
    around every string. A frame with columns of other types (booleans, categories) or an
    unnamed index goes through pandas itself.

    The rows go through Arrow `chunk_rows` at a time, so the writer's own memory stays that of
    one chunk however long the frame (10,000 series' test forecasts are millions of rows); the
    file is the same whatever the chunk size."""
    import pandas as pd
    import pyarrow as pa
    from pyarrow import csv as arrow_csv

    def is_stamp(dtype) -> bool:
        return isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype)

    def arrow_writes(dtype) -> bool:  # as pandas would: numbers but booleans, strings, timestamps
        return (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
                or pd.api.types.is_string_dtype(dtype) or is_stamp(dtype))

    index = frame.index.remove_unused_levels() if isinstance(frame.index, pd.MultiIndex) else frame.index
    if any(name is None for name in index.names):
        return atomic_write(path, lambda tmp: frame.to_csv(tmp))
    # The output columns in order: each index level, and each timestamp column, as row codes
    # into its distinct values, timestamps already as pandas' text, decided once over the whole
    # column (pandas drops the time of day when every value is at midnight); any other column
    # as it is. Each chunk then takes its rows.
    sources: list[tuple[np.ndarray, pd.Index] | pd.Series] = list(_index_codes(index))
    if not all(arrow_writes(v.dtype) for v in (*(u for _, u in sources), *(col for _, col in frame.items()))):
        return atomic_write(path, lambda tmp: frame.to_csv(tmp))
    sources += [pd.factorize(col) if is_stamp(col.dtype) else col for _, col in frame.items()]
    for i, source in enumerate(sources):
        if isinstance(source, tuple) and is_stamp(source[1].dtype):
            codes, uniques = source
            sources[i] = codes, pd.Index(pd.Index(uniques).astype(str), dtype=object)  # pandas' own format
    texts = [s[1] if isinstance(s, tuple) else s for s in sources]
    special = set(',"\r\n')
    quoting = "needed" if any(special.intersection(str(v)) for col in texts if not pd.api.types.is_numeric_dtype(col.dtype)
                              for v in pd.unique(col.dropna())) else "none"  # "none" refuses such values
    header = [*index.names, *frame.columns]

    def rows(source: tuple[np.ndarray, pd.Index] | pd.Series, a: int, b: int) -> pd.Series:
        if not isinstance(source, tuple):
            return source.iloc[a:b].reset_index(drop=True)
        codes, uniques = source[0][a:b], source[1]
        col = pd.Series(uniques.take(codes))  # the type the column has, as `to_csv` writes it
        return col.astype(object).where(codes >= 0, None) if (codes < 0).any() else col

    def arrow_table(a: int, b: int) -> pa.Table:
        columns = {str(i): rows(source, a, b) for i, source in enumerate(sources)}  # names: the header's
        return pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)  # NaN -> null

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerow(header)  # the header as pandas quotes it
        with open(tmp, "ab") as fh:
            for start in range(0, len(frame), chunk_rows):
                arrow_csv.write_csv(arrow_table(start, start + chunk_rows), fh,
                                    arrow_csv.WriteOptions(include_header=False, quoting_style=quoting))

    return atomic_write(path, write)


def _index_codes(index: pd.Index) -> list[tuple[np.ndarray, pd.Index]]:
    """Each level of `index` as (row codes, distinct values); code -1 is a missing value."""
    import numpy as np
    import pandas as pd
    if isinstance(index, pd.MultiIndex):
        return [(np.asarray(c), lv) for c, lv in zip(index.codes, index.levels)]
    codes, uniques = pd.factorize(index)
    return [(codes, pd.Index(uniques))]


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def finite_or_none(value: object) -> object:
    """`value` with every non-finite float (NaN, inf) replaced by None, through dicts and lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def write_metrics_json(path: str | os.PathLike, metrics: dict) -> Path:
    """metrics.json at `path`, atomically: valid JSON, so a number that is not finite (an
    interval too wide to calibrate on few windows, a metric with nothing to average) is written
    as null. Streamed into the file: the text of 10,000 series' metrics is never one string
    (nor the list of its millions of pieces that `json.dumps` joins)."""
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(finite_or_none(metrics), fh, indent=2, allow_nan=False)
    return atomic_write(path, write)
