"""Sensor logs (or any table) from CSV or parquet files.

`load_file` reads the file, parses the time column and returns the named columns indexed by
time.

CSV dialect: the field separator (`,` `;` tab `|`) is detected from the header and the first
lines (the one that splits every line into the same number of >= 2 fields), and the decimal mark
is `,` when the separator is not `,` and the values look like `1,5` (then `1.234,5` also reads
as 1234.5); `sep` / `decimal` (--sep, --decimal) override the detection. gzip/bz2/xz/zip files
and a UTF-8 byte-order mark are fine. `DD.MM.YYYY` dates (and `D/M/Y` ones where a day > 12
shows it) are read day first.

Time zones: timestamps with an offset (`+02:00`, `Z`) are converted to UTC; naive timestamps
stay naive unless `tz` is given (then they are localized to it and converted to UTC); a file
mixing naive and offset timestamps is refused. Localizing naive times meets the daylight-saving
changes: `ambiguous` decides the repeated hour when clocks go back ("infer" from the order of
the rows, "earliest" = the first/summer-time one, "latest" = the second/standard-time one,
"drop" = drop those rows) and `nonexistent` the skipped hour when clocks go forward ("raise",
"shift_forward"/"shift_backward" to the nearest valid time, "drop" = drop those rows). Rows are
dropped without a message; anything that cannot be resolved is a one-line `DataError`.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecaster.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

AMBIGUOUS = ("infer", "earliest", "latest", "drop")
NONEXISTENT = ("raise", "shift_forward", "shift_backward", "drop")
SEPARATORS = (",", ";", "\t", "|")
_SEP_ALIASES = {"\\t": "\t", "tab": "\t"}
_SAMPLE_CHARS = 64 * 1024
_SAMPLE_ROWS = 50
_COMMA_NUMBER = re.compile(r"[-+]?\d*,\d+(?:[eE][-+]?\d+)?")
_DOT_NUMBER = re.compile(r"[-+]?\d*\.\d+(?:[eE][-+]?\d+)?")
_DOT_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:\.\d{3})+,\d+")
# an offset (or Z/UTC) right after a time of day; a date such as 2024-01-01 never matches
_OFFSET = r"\d\d:?\d\d(?::?\d\d(?:[.,]\d+)?)?\s*(?:Z|UTC|GMT|[+-]\d\d(?::?\d\d)?)\s*$"


FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet")  # the files `load_file` reads


def load_file(path: str | Path, time_col: str | None = None, columns: list[str] | None = None,
              tz: str | None = None, sep: str | None = None, decimal: str | None = None,
              ambiguous: str = "infer", nonexistent: str = "raise") -> pd.DataFrame:
    """Read a CSV (optionally compressed) or parquet file into a time-indexed frame.

    `time_col` defaults to the first column. `columns` (targets and features) are kept in order;
    all other columns are dropped. Validation of values happens in `forecaster.data.frame`.
    `sep` / `decimal` default to what the file looks like (see the module docstring). With `tz`,
    naive timestamps are localized by the `ambiguous` / `nonexistent` policies; rows whose
    time a "drop" policy removes are dropped from the frame too, silently.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}; check the --csv path")
    sep = _SEP_ALIASES.get(sep, sep) if sep else None
    decimal = decimal or None
    try:
        if path.suffix == ".parquet":
            raw = _read_parquet(path)
            if time_col is None and isinstance(raw.index, pd.DatetimeIndex):
                raw = raw.reset_index()
            sep_how = None
        else:
            sep_how = "given" if sep else "detected"
            sep, decimal, thousands = _dialect(path, sep, decimal)
            raw = pd.read_csv(path, sep=sep, decimal=decimal, thousands=thousands, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; give a CSV with a header row and data rows") from None
    except pd.errors.ParserError as err:
        first = _first_line(err)
        raise DataError(f"cannot read {path}: {first}; check that every row has the same number of "
                        f"{sep!r}-separated fields, or give the separator with --sep") from None
    except (UnicodeDecodeError, OSError, ValueError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as err:
        raise DataError(f"cannot read {path}: {_first_line(err)}; save it as UTF-8 CSV or parquet") from None
    if len(raw.columns) < 2:
        where = f" when split at {sep!r} ({sep_how} separator)" if sep_how else ""
        raise DataError(f"{path} has fewer than 2 columns{where}; it needs a time column and at least "
                        "one value column with a header row (give the CSV separator with --sep, e.g. --sep ';')")
    if raw.empty:
        raise DataError(f"{path} has no data rows; it needs a time column and at least one value "
                        "column, with a header row and data rows")
    if _looks_like_data(raw.columns, decimal or "."):
        shown = sep if sep in (";", "|") else ","
        raise DataError(f"{path} has no header row (its first line is {shown.join(map(str, raw.columns))}); "
                        f"add a line of column names, e.g. ts{shown}temp")
    time_col = time_col or str(raw.columns[0])
    wanted = [time_col, *(columns or [])]
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise DataError(f"{path} has no column {missing[0]!r}; its columns are "
                        f"{', '.join(map(str, raw.columns))} (use --time-col / --target / --features)")
    index, kept = _parse_times(raw[time_col], tz, f"{path}:{time_col}", ambiguous, nonexistent)
    keep = columns if columns else [c for c in raw.columns if c != time_col]
    frame = raw[keep]
    if not kept.all():
        frame = frame.iloc[np.flatnonzero(kept)]
    return frame.set_axis(index, axis=0)


def _read_parquet(path: Path) -> pd.DataFrame:
    """A parquet file, one column at a time: the frame plus one row group's decoding buffers.
    The float columns of each dtype are decoded row group by row group into one (K, T) block
    (a series' rows of a long-format file are then a one-block slice: 1.9 KB against 6.7 KB for
    eight column blocks), a time-zone-free timestamp column into its own numpy array (never an
    Arrow table of the whole file, nor of a whole column, beside it: a long log of 10 M rows x
    10 columns read at once peaked at 2.6x its size); any other column is read by Arrow and
    turned into pandas with the file's pandas metadata, as `pd.read_parquet` turns it (whose
    own read costs 17 MB more). A file that stores a pandas index is read whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    twice = sorted({n for n in schema.names if schema.names.count(n) > 1})
    if twice:
        raise DataError(f"{path} has more than one column named {twice[0]!r}; rename them so that "
                        "each name is used once")
    stored_index = [c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)]
    if stored_index or len(schema.names) < 2:
        return pd.read_parquet(path)
    file = pq.ParquetFile(path)
    floats: dict[np.dtype, list[pa.Field]] = {}
    for field in schema:
        if pa.types.is_floating(field.type):
            floats.setdefault(np.dtype(field.type.to_pandas_dtype()), []).append(field)
    parts = []
    for dtype, fields in floats.items():
        block = np.empty((len(fields), file.metadata.num_rows), dtype=dtype)  # (K, T)
        for k, field in enumerate(fields):
            _decoded(file, field, block[k])
        parts.append(pd.DataFrame(block.T, columns=[f.name for f in fields], copy=False))  # (T, K), no copy
    rest = {}
    for field in (f for f in schema if not pa.types.is_floating(f.type)):
        plain = pa.types.is_timestamp(field.type) and field.type.tz is None
        rest[field.name] = (_decoded(file, field) if plain else  # positional, as the blocks
                            file.read(columns=[field.name], use_threads=False).to_pandas()[field.name].array)
    pa.default_memory_pool().release_unused()  # Arrow's allocator keeps the freed buffers otherwise
    parts += [pd.DataFrame(rest, copy=False)] if rest else []
    frame = pd.concat(parts, axis=1)[schema.names]  # views of the blocks (copy-on-write)
    return frame.set_axis(file.read(columns=[], use_threads=False).to_pandas().index)  # pandas' RangeIndex


def _decoded(file: pq.ParquetFile, field: pa.Field, out: np.ndarray | None = None) -> np.ndarray:
    """(T,) one float or timestamp column of a parquet file, decoded one row group at a time
    into `out` (a row of a (K, T) block) or a new numpy array; a null is NaN, or NaT."""
    dtype = field.type.to_pandas_dtype()
    out = np.empty(file.metadata.num_rows, dtype=dtype) if out is None else out
    at = 0
    for g in range(file.num_row_groups):
        for chunk in file.read_row_group(g, columns=[field.name], use_threads=False).column(0).chunks:
            out[at:at + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
            at += len(chunk)
    return out


def parse_times(values: pd.Series, tz: str | None = None, what: str = "time column",
                ambiguous: str = "infer", nonexistent: str = "raise") -> pd.DatetimeIndex:
    """Parse timestamps; offsets -> UTC, naive stay naive (or localized to `tz`, then UTC).

    `ambiguous` / `nonexistent` are the daylight-saving policies of the module docstring; with
    "drop" the returned index is shorter than `values` (use `load_file` to drop whole rows).
    """
    return _parse_times(values, tz, what, ambiguous, nonexistent)[0]


def _parse_times(values: pd.Series, tz: str | None, what: str, ambiguous: str,
                 nonexistent: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The parsed index without dropped rows, and a mask of the rows kept."""
    if ambiguous not in AMBIGUOUS or nonexistent not in NONEXISTENT:
        bad, allowed = ((f"ambiguous {ambiguous!r}", AMBIGUOUS) if ambiguous not in AMBIGUOUS
                        else (f"nonexistent {nonexistent!r}", NONEXISTENT))
        raise DataError(f"unknown {bad}; choose one of {', '.join(allowed)}")
    if tz is not None:
        _check_tz(tz)
    if pd.api.types.is_datetime64_any_dtype(values):
        index = pd.DatetimeIndex(values)
    else:
        text = values.astype("string")
        has_offset = text.str.contains(_OFFSET, regex=True, na=False)
        if has_offset.any() and not has_offset[text.notna()].all():
            raise DataError(f"{what} mixes timestamps with and without a time zone; write all of "
                            "them with an offset (e.g. 2024-01-01T00:00:00+00:00) or none")
        dayfirst = _day_first(text, what)
        try:
            index = pd.DatetimeIndex(pd.to_datetime(values, utc=bool(has_offset.any()), format="mixed",
                                                    dayfirst=dayfirst))
        except (ValueError, TypeError, OverflowError) as err:
            bad = _first_unparseable(values)
            raise DataError(f"{what} has an unparseable timestamp {bad!r}; use ISO 8601 such as "
                            "2024-01-31 13:00:00") from err
    if index.isna().any():
        raise DataError(f"{what} has {int(index.isna().sum())} empty timestamps; fill or drop those rows")
    kept = np.ones(len(index), dtype=bool)
    if tz is not None and index.tz is None:
        index, kept = _localize(index, tz, what, ambiguous, nonexistent)
    elif tz is not None:
        index = index.tz_convert(tz)
    if index.tz is not None:
        index = index.tz_convert("UTC")
    return index.rename(values.name), kept


def _localize(index: pd.DatetimeIndex, tz: str, what: str, ambiguous: str,
              nonexistent: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Naive local times -> aware, by the daylight-saving policies; the rows kept as a mask."""
    n = len(index)
    unresolved = index.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").isna()
    missing = np.asarray(index.tz_localize(tz, ambiguous=np.ones(n, dtype=bool), nonexistent="NaT").isna())
    is_ambiguous = np.asarray(unresolved) & ~missing
    if nonexistent == "raise" and missing.any():
        raise DataError(f"{what} has the local time {index[missing][0]}, which does not exist in {tz} "
                        "(clocks went forward); give --nonexistent shift_forward (or drop), or write "
                        "the timestamps with their offset")
    amb = {"infer": "infer", "earliest": np.ones(n, dtype=bool), "latest": np.zeros(n, dtype=bool),
           "drop": "NaT"}[ambiguous]
    gap = {"raise": "raise", "shift_forward": "shift_forward", "shift_backward": "shift_backward",
           "drop": "NaT"}[nonexistent]
    try:
        local = index.tz_localize(tz, ambiguous=amb, nonexistent=gap)
    except ValueError:  # only "infer" can still fail here
        first = index[_first_uninferable(index, tz, is_ambiguous)]
        raise DataError(f"{what} has the local time {first}, which is ambiguous in {tz} (clocks went "
                        "back), and the order of the rows does not tell which occurrence it is; give "
                        "--ambiguous earliest or latest (or drop), or write the timestamps with their "
                        "offset") from None
    kept = np.asarray(local.notna())
    return local[kept], kept


def _first_uninferable(index: pd.DatetimeIndex, tz: str, is_ambiguous: np.ndarray) -> int:
    """Position of the first run of ambiguous rows that pandas cannot infer on its own."""
    positions = np.flatnonzero(is_ambiguous)
    if not len(positions):
        return 0
    runs = np.split(positions, np.flatnonzero(np.diff(positions) != 1) + 1)
    for run in runs:
        try:
            index[run].tz_localize(tz, ambiguous="infer")
        except ValueError:
            return int(run[0])
    return int(positions[0])


def _check_tz(tz: str) -> None:
    try:
        pd.Timestamp("2000-01-01").tz_localize(tz)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, OSError):
        raise DataError(f"unknown time zone {tz!r}; use an IANA name such as Europe/Berlin, "
                        "America/New_York or UTC") from None


def _day_first(text: pd.Series, what: str) -> bool:
    """DD.MM.YYYY dates, and D/M/Y ones where a day > 12 gives it away, are day first."""
    dates = text.dropna().str.extract(r"^\s*(\d{1,2})([./])(\d{1,2})[./]\d{2,4}(?:\D|$)")
    if dates.empty or dates[0].isna().any():
        return False
    if (dates[1] == ".").all():
        return True
    first, second = dates[0].astype(int), dates[2].astype(int)
    if (first > 12).any() and (second > 12).any():
        raise DataError(f"{what} mixes day-first and month-first dates; write them as ISO 8601 "
                        "such as 2024-01-31 13:00:00")
    return bool((first > 12).any())


def _dialect(path: Path, sep: str | None, decimal: str | None) -> tuple[str, str, str | None]:
    """The separator, decimal mark and thousands mark: the given ones, else detected."""
    rows = _sample_rows(path)
    if sep is None:
        sep = _detect_sep(rows, exclude=decimal)
    if decimal is None:
        decimal = _detect_decimal(rows, sep)
    if sep == decimal:
        raise DataError(f"{path}: the separator and the decimal mark are both {sep!r}; give the other "
                        "one with --sep or --decimal")
    thousands = "." if decimal == "," and sep != "." and _has(rows, sep, _DOT_THOUSANDS) else None
    return sep, decimal, thousands


def _sample_rows(path: Path) -> list[str]:
    """The first lines of the file as text (decompressed as pandas would), or [] if unknown."""
    name = path.name.lower()
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zst")):
        return []
    with _open_text(path, name) as fh:
        text = fh.read(_SAMPLE_CHARS)
    lines = text.splitlines()
    if len(text) == _SAMPLE_CHARS and len(lines) > 1:
        lines = lines[:-1]  # cut in the middle
    return [ln for ln in lines if ln.strip()][:_SAMPLE_ROWS]


def _open_text(path: Path, name: str) -> io.TextIOBase:
    kw = {"encoding": "utf-8-sig", "errors": "replace"}
    if name.endswith(".gz"):
        return gzip.open(path, "rt", **kw)
    if name.endswith(".bz2"):
        return bz2.open(path, "rt", **kw)
    if name.endswith((".xz", ".lzma")):
        return lzma.open(path, "rt", **kw)
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            data = archive.read(members[0]) if members else b""
        return io.StringIO(data.decode("utf-8-sig", errors="replace"))
    return open(path, encoding="utf-8-sig", errors="replace")


def _split(rows: list[str], sep: str) -> list[list[str]]:
    return [r for r in csv.reader(rows, delimiter=sep) if r]


def _detect_sep(rows: list[str], exclude: str | None = None) -> str:
    """The candidate that splits the header into >= 2 fields and every line alike; ties go to
    ; tab | before , (a comma in a ;-file is a decimal mark)."""
    best, best_key = ",", None
    for pref, sep in enumerate(reversed(SEPARATORS)):  # "," last = lowest preference
        if sep == exclude:
            continue
        counts = [len(r) for r in _split(rows, sep)]
        if not counts or counts[0] < 2:
            continue
        key = (all(c == counts[0] for c in counts), counts[0], -pref)
        if best_key is None or key > best_key:
            best, best_key = sep, key
    return best


def _detect_decimal(rows: list[str], sep: str) -> str:
    if sep == ",":
        return "."
    fields = [f.strip() for r in _split(rows, sep)[1:] for f in r]
    commas = sum(1 for f in fields if _COMMA_NUMBER.fullmatch(f))
    dots = sum(1 for f in fields if _DOT_NUMBER.fullmatch(f))
    return "," if commas > dots else "."


def _has(rows: list[str], sep: str, pattern: re.Pattern) -> bool:
    return any(pattern.fullmatch(f.strip()) for r in _split(rows, sep)[1:] for f in r)


def _looks_like_data(columns: pd.Index, decimal: str = ".") -> bool:
    """A header whose first name is a timestamp and all others numbers is a data row."""
    names = [str(c) for c in columns]
    try:
        pd.Timestamp(names[0])
        [float(n.replace(decimal, ".") if decimal != "." else n) for n in names[1:]]
    except (ValueError, TypeError):
        return False
    return True


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err).strip() else type(err).__name__


def _first_unparseable(values: pd.Series) -> str:
    for v in values:
        try:
            pd.Timestamp(v)
        except (ValueError, TypeError):
            return str(v)
    return str(values.iloc[0])
