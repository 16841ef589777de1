"""Frame validation: the one place that checks data. Nothing downstream checks again.

`validate_frame` takes a raw frame from a source and returns a `ValidFrame` that guarantees:

- `data` holds exactly the target columns then the feature columns (the past ones, then the
  `future` ones: known for the whole horizon at each cutoff, see `--future-features`), finite (no NaN, no
  infinity), indexed by a strictly increasing, unique DatetimeIndex in the caller's time unit
  (pandas 3 parses to microseconds; use `ticks` to turn `asi8` steps into a Timedelta); a
  tz-aware index is in UTC. Float32 columns stay float32 and every other column becomes
  float64: a clean float32 log of 10 M rows is neither converted nor copied (the columns
  share the caller's memory, which pandas' copy-on-write protects from writes either side).
- every target varies (a constant target cannot be forecast or scaled).
- `segment` (one int32 per row) numbers the contiguous stretches of the series; a window must
  never span two segments.
- `filled` (rows x targets) marks target values that were filled rather than observed;
  metrics skip them.

The gap and NaN policy, by kind:

- "price" (stocks): rows are trading sessions, so weekends and market holidays are not gaps.
  A row with a NaN in a needed column is dropped. One segment.
- "sensor" (logs): a log on a calendar grid (every timestamp at midnight, naive or UTC, and
  every one the first day of its month, or every one the last day of its month, consecutive
  timestamps a whole number of k = 1, 3 or 12 months apart, k the smallest spacing) is sampled
  every `freq` = `MonthBegin(k)` or `MonthEnd(k)`: its grid is every k-th month start (end)
  from its first timestamp to its last, and each row is placed on it at its own timestamp
  (nothing averaged, no drift), so a missing month becomes a NaN row. Any other log is sampled
  every `freq` = its median spacing (a Timedelta) and binned onto that regular grid (mean per
  bin), so missing timestamps become NaN. Either way a log already on its grid with no missing
  value is kept as it is, and a run of up to `max_gap` missing steps is forward-filled (causal:
  only past values, never the value after the gap); a longer run is dropped and starts a new
  segment. `calendar_months` tells the two kinds of step apart for everything downstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from forecaster.errors import DataError

# The sampling step of a sensor log: a fixed Timedelta, or a calendar offset (MonthBegin(k) or
# MonthEnd(k), see `calendar_months`) whose steps are whole months of varying length.
Step = pd.Timedelta | pd.offsets.BaseOffset
CALENDAR_MONTHS = (1, 3, 12)  # the calendar grids recognised: monthly, quarterly, yearly


@dataclass(frozen=True)
class ValidFrame:
    data: pd.DataFrame
    targets: list[str]
    features: list[str]  # past features, then the known-future ones
    kind: str  # "price" or "sensor"
    freq: Step | None  # sampling step of a sensor log (a Timedelta or a calendar offset); None for trading sessions
    season: int  # seasonal period in rows (24 for hourly, 5 for business days...)
    segment: np.ndarray  # (T,) int32, read-only (a view of one zero when the log has no gaps)
    filled: np.ndarray  # (T, C) bool, read-only likewise
    notes: list[str] = field(default_factory=list)
    future: list[str] = field(default_factory=list)  # the last features: known at each cutoff for the H rows after it
    static: dict[str, float] = field(default_factory=dict)  # encoded attributes of the series (forecaster.data.static)

    @property
    def columns(self) -> list[str]:
        return [*self.targets, *self.features]


def validate_frame(raw: pd.DataFrame, targets: list[str], features: list[str] | None = None,
                   kind: str = "sensor", max_gap: int = 6, name: str = "data",
                   future: list[str] | None = None) -> ValidFrame:
    """Check and clean a raw frame; raise DataError with the fix for anything unusable.
    `future` names the columns known in advance: they become the last features."""
    notes: list[str] = []
    both = [f for f in features or [] if f in targets]
    if both:
        notes.append(f"{', '.join(both)} given as target and feature; used once, as a target")
    if len(set(targets)) < len(targets):
        raise DataError(f"{name}: a target is named twice ({', '.join(targets)}); list each target once")
    future = [f for f in dict.fromkeys(future or [])]
    if any(f in targets for f in future):
        raise DataError(f"{name}: {next(f for f in future if f in targets)!r} is a target and a future "
                        "feature; a target's future is never known in advance: drop it from --future-features")
    twice = [f for f in features or [] if f in future]
    if twice:
        notes.append(f"{', '.join(twice)} given as feature and future feature; used once, as a future feature")
    past = [f for f in dict.fromkeys(features or []) if f not in targets and f not in future]
    features = [*past, *future]  # each once, in order: the past features, then the future ones
    if not targets:
        raise DataError(f"{name}: no target column given; name one with --target")
    if kind not in ("price", "sensor"):
        raise DataError(f"{name}: unknown kind {kind!r}; use 'price' or 'sensor'")
    if max_gap < 0:
        raise DataError(f"max_gap must be >= 0, got {max_gap}; use --max-gap 0 to never fill")
    wanted = [*targets, *features]
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise DataError(f"{name} has no column {missing[0]!r}; its columns are "
                        f"{', '.join(map(str, raw.columns))} (use --target / --features / --future-features)")
    if len(raw) == 0:
        raise DataError(f"{name} has no rows; give a non-empty series")
    index = _check_index(raw.index, name)
    columns = {c: _numeric(raw[c], c, name) for c in wanted}
    positions = _as_slice(raw.columns.get_indexer(wanted).tolist()) if raw.columns.is_unique else None
    if positions is not None and all(raw[c].dtype == columns[c].dtype for c in wanted):
        data = raw.iloc[:, positions].set_axis(index, axis=0)  # the raw frame's own blocks, sliced: views
    else:  # one block per column, each the raw column itself where it needed no conversion
        data = pd.DataFrame(columns, index=index, copy=False)

    if kind == "price":
        freq, season = None, _trading_season(index)
        data, segment, filled = _drop_nan_rows(data, notes, name)
    else:
        if len(index) < 2:
            raise DataError(f"{name} needs at least 2 distinct timestamps to infer its sampling step")
        freq, regular = _sampling_step(index)
        season = _season_for(freq)
        complete = not any(np.isnan(data[c].to_numpy()).any() for c in data)
        if regular and complete:  # already on its grid: keep it as it is; one stretch, nothing
            # filled: read-only views of one zero, no memory (5 bytes a row: 50 MB over 10 M rows)
            segment = np.broadcast_to(np.int32(0), (len(data),))
            filled = np.broadcast_to(False, (len(data), len(targets)))
        else:
            data, segment, filled = _fill_gaps(_on_grid(data, freq), max_gap, targets, notes)
    for c in targets:
        if data[c].min() == data[c].max():
            raise DataError(f"{name}: target {c!r} is constant; choose a target that varies")
    return ValidFrame(data=data, targets=list(targets), features=features, kind=kind, freq=freq,
                      season=season, segment=segment, filled=filled, notes=notes, future=future)


def _check_index(index: pd.Index, name: str) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"{name} is not indexed by time; give a time column (--time-col)")
    if index.hasnans:
        raise DataError(f"{name} has empty timestamps; fill or drop those rows")
    # Sortedness first: a strictly increasing index is then known unique without the hash table
    # of its values that `has_duplicates` builds and caches (~30 bytes a row, on every series).
    increasing = index.is_monotonic_increasing
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        n = int(index.duplicated().sum())
        raise DataError(f"{name} has {n} duplicate timestamp(s), first {dup}; keep one row per "
                        "timestamp (e.g. average duplicates) before fitting")
    if not increasing:
        pos = int(np.argmax(np.diff(index.asi8) < 0)) + 1
        raise DataError(f"{name} timestamps are not sorted (row {pos}: {index[pos]} comes after "
                        f"{index[pos - 1]}); sort the file by its time column")
    if index.tz is not None:
        index = index.tz_convert("UTC")
    return index  # in its own unit (pandas 3 parses to microseconds): no copy of a long index


def ticks(index: pd.DatetimeIndex, n: float) -> pd.Timedelta:
    """`n` steps of the index's integer clock (`asi8`, in the index's own unit) as a Timedelta."""
    return pd.Timedelta(int(round(n)), unit=index.unit)


def calendar_months(freq: Step | None) -> int:
    """Months per step of a calendar sampling step (`MonthBegin(k)` or `MonthEnd(k)`: k); 0 for
    a fixed step (a Timedelta) or trading sessions (None). The one test of "is this a calendar
    step" everything downstream asks."""
    return int(freq.n) if isinstance(freq, (pd.offsets.MonthBegin, pd.offsets.MonthEnd)) else 0


def step_text(freq: Step | None) -> str | None:
    """A sampling step as text for JSON: a Timedelta's isoformat ("P0DT1H0M0S"), a calendar
    offset's pandas alias ("MS", "3ME"); None stays None. `parse_step` reads it back."""
    if freq is None:
        return None
    return freq.freqstr if calendar_months(freq) else freq.isoformat()


def parse_step(text: str | None) -> Step | None:
    """The sampling step `step_text` wrote (None or "" for trading sessions). A calendar alias
    ends in MS or ME; anything else is a Timedelta, as every step written before calendar
    grids. Raises ValueError for text that is neither."""
    if not text:
        return None
    if not text.endswith(("MS", "ME")):
        return pd.Timedelta(text)
    offset = to_offset(text)
    if not calendar_months(offset):
        raise ValueError(f"{text!r} is not a calendar sampling step (e.g. MS, 3MS, ME)")
    return offset


def shifted(index: pd.DatetimeIndex, n: int, freq: Step) -> np.ndarray:
    """(T,) int64 stamps, on `index`'s own `asi8` clock, `n` sampling steps after each of its
    timestamps (before it for n < 0): a fixed step adds n times its length, a calendar step
    moves n * k months (a month start stays a month start, a month end a month end)."""
    if not calendar_months(freq):
        return index.asi8 + n * (freq // ticks(index, 1))
    if n == 0:
        return index.asi8
    # Offset arithmetic on a DatetimeIndex is vectorized; n * MonthBegin(k) is MonthBegin(n * k).
    return (index + n * freq).as_unit(index.unit).asi8


def _sampling_step(index: pd.DatetimeIndex) -> tuple[Step, bool]:
    """The sampling step of a sensor log's (T >= 2) index, and whether every step is exactly
    one: the calendar offset of a log on a calendar grid (`_calendar_step`), else the median
    spacing as a Timedelta."""
    calendar = _calendar_step(index)
    if calendar is not None:
        return calendar
    step = _regular_step(index.asi8)
    return ticks(index, step if step is not None else np.median(np.diff(index.asi8))), step is not None


def _calendar_step(index: pd.DatetimeIndex) -> tuple[pd.offsets.BaseOffset, bool] | None:
    """`MonthBegin(k)` (or `MonthEnd(k)`) and whether no step is missing, when every timestamp
    is a midnight month start (or every one a month end) and consecutive ones are multiples of
    k months apart, k their smallest spacing and one of CALENDAR_MONTHS; else None."""
    if index[1] - index[0] < pd.Timedelta(days=28):  # refuses finer logs before any (T,) work
        return None
    if (index.asi8 % (pd.Timedelta(days=1) // ticks(index, 1))).any():  # not all at midnight
        return None
    if index.is_month_start.all():
        offset = pd.offsets.MonthBegin
    elif index.is_month_end.all():
        offset = pd.offsets.MonthEnd
    else:
        return None
    months = np.diff(index.year.to_numpy(np.int64) * 12 + index.month.to_numpy(np.int64))
    k = int(months.min())
    if k not in CALENDAR_MONTHS or (months % k).any():
        return None
    return offset(k), bool((months == k).all())


def _regular_step(stamps: np.ndarray, chunk: int = 1 << 20) -> int | None:
    """The step of strictly increasing int64 `stamps` if every step is equal, else None."""
    step = int(stamps[1] - stamps[0])
    for a in range(0, len(stamps) - 1, chunk):  # in chunks: no (T,) temporary
        if (np.diff(stamps[a:a + chunk + 1]) != step).any():
            return None
    return step


def _as_slice(positions: list[int]) -> slice | None:
    """Column positions as the slice that selects them in order, where they are evenly spaced
    (a frame sliced by columns is a view of its blocks: a long-format file's series then keeps
    its one float block, 1.9 KB a series against 6.7 KB for a block per column); else None."""
    steps = set(np.diff(positions).tolist()) if len(positions) > 1 else {1}
    if len(steps) != 1 or 0 in steps:
        return None
    step = steps.pop()
    end = positions[-1] + step
    return slice(positions[0], end if end >= 0 else None, step)


def _numeric(col: pd.Series, c: str, name: str) -> np.ndarray:
    if col.dtype in (np.float32, np.float64):
        out = col.to_numpy()  # no conversion, no copy
    else:
        values = pd.to_numeric(col, errors="coerce")
        bad = values.isna() & col.notna()
        if bad.any():
            raise DataError(f"{name}: column {c!r} is not numeric (value {col[bad].iloc[0]!r}); "
                            "choose a numeric column or clean it")
        out = values.to_numpy(dtype="float64")
    if np.isinf(out).any():
        raise DataError(f"{name}: column {c!r} has infinite values; replace them with numbers or blanks")
    if np.isnan(out).all():
        raise DataError(f"{name}: column {c!r} has no values (all missing); choose another column")
    return out


def _drop_nan_rows(data: pd.DataFrame, notes: list[str], name: str):
    keep = data.notna().all(axis=1).to_numpy()
    if not keep.all():
        notes.append(f"dropped {int((~keep).sum())} rows with missing values")
        data = data[keep]
    segment = np.zeros(len(data), dtype=np.int32)
    return data, segment, np.zeros((len(data), 0), dtype=bool)


def _on_grid(data: pd.DataFrame, freq: Step) -> pd.DataFrame:
    """(T_grid, F) `data` on the grid of its sampling step from its first timestamp, NaN where
    no sample: on a calendar grid each row at its own timestamp (nothing averaged); with a fixed
    step the mean of the rows in each bin."""
    if calendar_months(freq):
        grid = pd.date_range(data.index[0], data.index[-1], freq=freq, name=data.index.name,
                             unit=data.index.unit)  # every k-th month start (end), first to last
        return data.reindex(grid)  # exact timestamps: every row lies on the grid (`_calendar_step`)
    return data.resample(freq, origin=data.index[0]).mean()


def _fill_gaps(grid: pd.DataFrame, max_gap: int, targets: list[str], notes: list[str]):
    """Forward-fill runs of up to `max_gap` missing steps of a (T_grid, F) `grid` (NaN where no
    sample), drop the longer runs: the kept rows, their segments and their filled targets."""
    missing = grid.isna().to_numpy()  # (T, F)
    fill = np.zeros_like(missing)
    for j in range(missing.shape[1]):
        fill[:, j] = _short_runs(missing[:, j], max_gap)
    filled_df = grid.ffill().where(~(missing & ~fill))  # fill only short runs, leave long ones NaN
    keep = filled_df.notna().all(axis=1).to_numpy()
    n_steps_missing = int(missing.any(axis=1).sum())
    if n_steps_missing:
        notes.append(f"{n_steps_missing} of {len(grid)} steps had missing values; "
                     f"{int((~keep).sum())} were dropped (gaps longer than {max_gap} steps), "
                     "the rest forward-filled")
    # A new segment starts at every kept row that follows a dropped row.
    starts = keep & ~np.r_[True, keep[:-1]]
    segment = np.cumsum(starts, dtype=np.int32)[keep]
    if len(segment):
        segment -= segment[0]  # the first kept stretch is segment 0
    target_idx = [grid.columns.get_loc(c) for c in targets]
    filled = (missing & fill)[keep][:, target_idx]
    return filled_df[keep], segment, filled


def _short_runs(missing: np.ndarray, max_gap: int) -> np.ndarray:
    """True where a run of missing values has length <= max_gap and follows a value."""
    out = np.zeros_like(missing)
    n, i = len(missing), 0
    while i < n:
        if not missing[i]:
            i += 1
            continue
        j = i
        while j < n and missing[j]:
            j += 1
        if i > 0 and j - i <= max_gap:
            out[i:j] = True
        i = j
    return out


def _season_for(freq: Step) -> int:
    months = calendar_months(freq)
    if months:
        return 12 // months  # a year of steps: monthly 12, quarterly 4, yearly 1
    day = pd.Timedelta(days=1)
    if freq < day and (day % freq) == pd.Timedelta(0):
        return int(day / freq)  # hourly -> 24, 15 min -> 96
    if freq == day:
        return 7
    if freq == pd.Timedelta(weeks=1):
        return 52
    return 1


def _trading_season(index: pd.DatetimeIndex) -> int:
    if len(index) < 3:
        return 1
    step = ticks(index, np.median(np.diff(index.asi8)))
    if step >= pd.Timedelta(days=25):
        return 12  # monthly bars
    if step >= pd.Timedelta(days=5):
        return 52  # weekly bars
    if step >= pd.Timedelta(days=1):
        return 5  # trading days in a week
    per_day = pd.Series(1, index=index).groupby(index.normalize()).size()
    return max(int(per_day.median()), 1)  # intraday bars in a session


def slice_frame(frame: ValidFrame, start: int, end: int) -> ValidFrame:
    """Rows [start, end) of a validated frame, with its segments and fill marks."""
    return replace(frame, data=frame.data.iloc[start:end], segment=frame.segment[start:end],
                   filled=frame.filled[start:end])
