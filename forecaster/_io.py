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
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

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


def versioned_json(text: str, source: str, what: str, expected: int, consequence: str,
                   older: tuple[int, ...] = ()) -> dict:
    """The mapping a JSON file of `what` (e.g. "model-card") holds, checked to declare format
    `expected` or one of the `older` formats this version still reads; otherwise a one-line
    ConfigError naming the format found and `consequence`."""
    try:
        d = json.loads(text)
    except ValueError:
        raise ConfigError(f"{source} is missing or corrupt (not JSON); {consequence}") from None
    if not isinstance(d, dict) or d.get("format") not in (expected, *older):
        fmt = d.get("format", "unknown") if isinstance(d, dict) else "unknown"
        version = d.get("forecaster_version", "?") if isinstance(d, dict) else "?"
        reads = " and ".join(str(f) for f in (*sorted(older), expected))
        raise ConfigError(f"{source} is in {what} format {fmt} (written by forecaster {version}); this "
                          f"version reads format {reads}: {consequence} with this version")
    return d


CSV_CHUNK_ROWS = 50_000  # rows turned into text at a time (see write_csv, write_csv_parts)


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

    index = frame.index.remove_unused_levels() if isinstance(frame.index, pd.MultiIndex) else frame.index
    if any(name is None for name in index.names):
        return atomic_write(path, lambda tmp: frame.to_csv(tmp))
    # Each index level, timestamp column and text column as row codes into its distinct
    # values; any other column as it is. Each part then takes `chunk_rows` of the rows.
    columns = list(_index_codes(index))
    for _, col in frame.items():
        coded = _is_stamp(col.dtype) or pd.api.types.is_string_dtype(col.dtype)
        columns.append(pd.factorize(col) if coded else (col.array, None))
    if not all(_arrow_writes(col.dtype if levels is None else levels.dtype) for col, levels in columns):
        return atomic_write(path, lambda tmp: frame.to_csv(tmp))
    parts = ([col[a:a + chunk_rows] for col, _ in columns] for a in range(0, len(frame), chunk_rows))
    return write_csv_parts(path, [*index.names, *frame.columns], [levels for _, levels in columns], parts,
                           chunk_rows)


def write_csv_parts(path: str | os.PathLike, header: list[str], levels: list[pd.Index | None],
                    parts: Iterable[list[np.ndarray]], chunk_rows: int = CSV_CHUNK_ROWS) -> Path:
    """A CSV at `path`, atomically, written part by part as `parts` yields them (one series'
    forecasts at a time: the rows of all of them are never in memory at once). Column j of
    every part is row codes into `levels[j]` (its distinct values; code -1 is missing) where
    that is given, else the values themselves (numbers). The text is `write_csv`'s: each
    level's timestamps formatted once, as pandas formats the whole column (without the time of
    day when every value is at midnight), and strings quoted only when one of them holds a
    comma, quote or line break. Parts are gathered into `chunk_rows` rows before they are
    turned into text (2,000 parts of 870 rows took 14 s one at a time, 2.2 s gathered). If
    `parts` raises, no file is left behind."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from pyarrow import csv as arrow_csv

    texts = [None if lv is None else pd.Index(lv.astype(str), dtype=object) if _is_stamp(lv.dtype) else lv
             for lv in levels]  # pandas' own text of a timestamp
    special = set(',"\r\n')
    quoting = "needed" if any(special.intersection(str(v)) for t in texts
                              if t is not None and not pd.api.types.is_numeric_dtype(t.dtype)
                              for v in t.dropna()) else "none"  # "none" refuses such values
    options = arrow_csv.WriteOptions(include_header=False, quoting_style=quoting)

    def column(values: np.ndarray, text: pd.Index | None) -> pd.Series:
        if text is None:
            return pd.Series(values)
        col = pd.Series(text.take(values))  # the type the column has, as `to_csv` writes it
        return col.astype(object).where(values >= 0, None) if (values < 0).any() else col

    def joined(pending: list[list[np.ndarray]]) -> list[np.ndarray]:
        return pending[0] if len(pending) == 1 else [np.concatenate(col) for col in zip(*pending)]

    def write_rows(fh, part: list[np.ndarray]) -> None:
        frame = pd.DataFrame({str(j): column(v, t) for j, (v, t) in enumerate(zip(part, texts))})
        arrow_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), fh, options)  # NaN -> null
        pa.default_memory_pool().release_unused()  # else Arrow's allocator keeps each chunk's buffers: +25 MB

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerow(header)  # the header as pandas quotes it
        with open(tmp, "ab") as fh:
            pending, rows = [], 0  # small parts (one series' few hundred rows) are written together
            for part in parts:
                pending.append(part)
                rows += len(part[0])
                if rows >= chunk_rows:
                    write_rows(fh, joined(pending))
                    pending, rows = [], 0
            if pending:
                write_rows(fh, joined(pending))

    return atomic_write(path, write)


def _is_stamp(dtype) -> bool:
    import pandas as pd
    return isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype)


def _arrow_writes(dtype) -> bool:
    """Whether Arrow writes a column of `dtype` as pandas would: numbers but booleans, strings,
    timestamps."""
    import pandas as pd
    return (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype) or _is_stamp(dtype))


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
    if isinstance(value, Mapping):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def write_metrics_json(path: str | os.PathLike, metrics: Mapping) -> Path:
    """metrics.json at `path`, atomically: valid JSON, so a number that is not finite (an
    interval too wide to calibrate on few windows, a metric with nothing to average) is written
    as null. Streamed into the file (`stream_json`: the top level and each of its blocks by
    key), so only one series' block at a time is copied to replace what is not finite. The text
    is `json.dump`'s with `indent=2`."""
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            stream_json(fh, metrics, levels=2, finite=True)
    return atomic_write(path, write)


class Mapped(Sequence):
    """`fn` of each of `items`, made when read: a list of 10,000 series' dicts that
    `stream_json` writes without them ever all being in memory."""

    def __init__(self, fn: Callable, items: Sequence) -> None:
        self.fn, self.items = fn, items

    def __getitem__(self, i):
        return self.fn(self.items[i])

    def __len__(self) -> int:
        return len(self.items)


def stream_json(fh: IO[str], value: object, levels: int, finite: bool = False, depth: int = 0) -> None:
    """Write `json.dump(value, fh, indent=2)`'s text (`finite`: every non-finite float as null,
    see `finite_or_none`), with the mappings and lists of the first `levels` levels written item
    by item: the text of 10,000 series is never one string, nor the list of its millions of
    pieces that `json.dumps` joins."""
    mapping = isinstance(value, Mapping)
    if mapping or isinstance(value, Sequence) and not isinstance(value, str):
        if depth < levels and len(value):
            opener, closer = ("{", "}") if mapping else ("[", "]")
            for i, (key, item) in enumerate(value.items() if mapping else enumerate(value)):
                fh.write((opener if i == 0 else ",") + "\n" + "  " * (depth + 1)
                         + (json.dumps(str(key)) + ": " if mapping else ""))
                stream_json(fh, item, levels, finite, depth + 1)
            fh.write("\n" + "  " * depth + closer)
            return
        value = value if len(value) else {} if mapping else []  # an empty Mapped, as json writes []
    text = json.dumps(finite_or_none(value) if finite else value, indent=2, allow_nan=not finite)
    fh.write(text.replace("\n", "\n" + "  " * depth))  # JSON strings hold no line breaks
