"""Several series for one model, laid end to end; one series is a panel of one.

The honesty rules of one series hold for each series of a panel:
- all series are split at the same two timestamps (the (1 - val - test) and (1 - test) points
  of their pooled timestamps), so no series is trained on a period another is tested on; for
  one series these are exactly its row fractions;
- each series has its own transforms and scalers, fitted on its own training rows;
- the series lie end to end in one array (one series: its own array, no copy), and no window
  crosses from one series into the next.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from forecaster.config import FitConfig
from forecaster.data.frame import ValidFrame
from forecaster.data.holidays import Holidays
from forecaster.data.prepare import SPLITS, Fitted, Prepared, prepare
from forecaster.data.rows import ScaledSeries, WindowStarts
from forecaster.data.windows import WindowDataModule
from forecaster.errors import ConfigError, DataError


@dataclass
class Panel:
    """Prepared series laid end to end: series i owns rows [offsets[i], offsets[i + 1])."""

    names: list[str]
    prepared: list[Prepared]
    offsets: np.ndarray  # (S + 1,)

    @property
    def first(self) -> Prepared:
        """The first series: its settings (inputs, transform, lookback...) are every series'."""
        return self.prepared[0]

    def datamodule(self, batch_size: int, seed: int) -> WindowDataModule:
        """The windows of every series: their columns end to end (one series: its own, no copy;
        a view where the series already lie end to end in one buffer), each series scaled by
        its own scaler as the batches are gathered."""
        p = self.first
        inputs = ScaledSeries.concat([q.scaled for q in self.prepared])  # S x (T_i, F) -> (sum T_i, F)
        starts = {split: WindowStarts.concat([q.starts[split].shifted(int(off)) for q, off in
                                              zip(self.prepared, self.offsets[:-1])]) for split in SPLITS}
        C = len(p.target_names)
        return WindowDataModule(inputs, inputs.head(C), starts, p.lookback, p.horizon,  # targets: the first C
                                relative=p.relative, batch_size=batch_size, seed=seed,
                                anchor=p.anchor, relative_inputs=p.relative_inputs,
                                future_columns=p.future_columns)

    def per_series(self, values: np.ndarray, split: str, series: range | None = None) -> list[np.ndarray]:
        """Split (N, ...) rows of all series' `split` windows (or of the consecutive `series`'
        windows only) into one array per series."""
        first = self.window_offsets[split]  # (S + 1,)
        series = range(len(self.prepared)) if series is None else series
        return np.split(values, first[series.start + 1:series.stop] - first[series.start])

    def window_counts(self, split: str) -> np.ndarray:
        """(S,) windows of `split` in each series."""
        return np.diff(self.window_offsets[split])

    def windows(self, split: str, series: range) -> range:
        """The numbers of `split`'s windows of the consecutive `series`, among all series' ones."""
        first = self.window_offsets[split]
        return range(int(first[series.start]), int(first[series.stop]))

    @cached_property
    def window_offsets(self) -> dict[str, np.ndarray]:
        """Per split, the (S + 1,) number of each series' first window among all series' ones
        (and the total last): counted once, read by every group of an evaluation."""
        return {split: np.cumsum([0, *(len(p.starts[split]) for p in self.prepared)]) for split in SPLITS}

    def groups(self, splits: tuple[str, ...], max_windows: int) -> list[range]:
        """The series cut into runs of consecutive series holding at most `max_windows` windows of
        `splits` together (a series with more is a run of its own): a whole panel's forecasts
        are then never all in memory at once."""
        counts = sum(self.window_counts(s) for s in splits)  # (S,)
        out, first, held = [], 0, 0
        for i, n in enumerate(counts.tolist()):
            if held and held + n > max_windows:
                out.append(range(first, i))
                first, held = i, 0
            held += n
        out.append(range(first, len(counts)))
        return out


def split_bounds(frames: dict[str, ValidFrame], val_size: float, test_size: float,
                 split_rows: list[int] | None = None, test_after: pd.Timestamp | None = None
                 ) -> list[dict[str, tuple[int, int]]]:
    """Each series' train / validation / test rows [first, end), split at shared times, or
    (one series) at the explicit row counts `split_rows` from the start, later rows unused.
    With `test_after` (an updated model's parent saw the data up to it), the test split starts
    after it at the earliest, so that every test row is one the parent never saw."""
    if split_rows and test_after is not None:
        raise ConfigError("--split-rows fixes the splits by row count, which newer data cannot extend; "
                          "give --val-size and --test-size instead")
    if split_rows:
        if len(frames) > 1:
            raise ConfigError("--split-rows counts the rows of one series; several series are split "
                              "at shared times by --val-size and --test-size: drop --split-rows")
        T = len(next(iter(frames.values())).data)
        a, b, c = np.cumsum(split_rows).tolist()
        if c > T:
            raise DataError(f"--split-rows {','.join(map(str, split_rows))} needs {c} rows, the series "
                            f"has {T} (after gap handling); give smaller counts")
        return [{"train": (0, a), "val": (a, b), "test": (b, c)}]
    if len(frames) == 1 and test_after is None:  # its own timestamps are the pooled ones: row fractions
        T = len(next(iter(frames.values())).data)
        a, b = int(round(T * (1 - val_size - test_size))), int(round(T * (1 - test_size)))
        return [{"train": (0, a), "val": (a, b), "test": (b, T)}]
    val_start, test_start = split_times(frames, val_size, test_size, test_after)
    out = []
    for name, frame in frames.items():
        index = frame.data.index
        if index[-1] < test_start or index[0] >= val_start:
            raise DataError(f"series {name!r} runs from {index[0]} to {index[-1]}, but every series "
                            f"needs training rows before {val_start} and test rows from {test_start}, "
                            "where all series are split; drop this series or give it the missing span")
        a, b = int(index.searchsorted(val_start)), int(index.searchsorted(test_start))
        out.append({"train": (0, a), "val": (a, b), "test": (b, len(index))})
    return out


def split_times(frames: dict[str, ValidFrame], val_size: float, test_size: float,
                test_after: pd.Timestamp | None = None) -> tuple:
    """The validation and test cutoffs: timestamps at the (1 - val - test) and (1 - test)
    points of all series' timestamps pooled, so every series is split at the same times.
    With `test_after`, the test split starts after it at the earliest and the validation split
    keeps its share of the timestamps just before."""
    indexes = [f.data.index for f in frames.values()]
    if len({ix.tz is None for ix in indexes}) > 1:
        raise DataError("some series have time zones and some do not; give all of them a time zone "
                        "(--tz) or none")
    stamps = pooled_stamps(indexes)  # (sum T,) in no order
    tz = indexes[0].tz

    n = len(stamps)
    val_pos, test_pos = int(round((1 - val_size - test_size) * n)), int(round((1 - test_size) * n))
    if test_after is not None:
        after = int((stamps <= pd.Timestamp(test_after).as_unit("ns").value).sum())  # sorted position
        if after >= n:
            raise DataError(f"the data hold no rows after {test_after}; nothing new to learn from or test on")
        shift = max(after - test_pos, 0)
        val_pos, test_pos = val_pos + shift, test_pos + shift
    kth = sorted({min(val_pos, n - 1), min(test_pos, n - 1)})
    stamps.partition(kth)  # in place: those positions hold what a sorted copy would hold there

    def at(pos: int) -> pd.Timestamp:
        return pd.Timestamp(int(stamps[min(pos, n - 1)]), tz=tz)
    return at(val_pos), at(test_pos)


def pooled_stamps(indexes: list[pd.DatetimeIndex]) -> np.ndarray:
    """Every series' timestamps in one (sum T,) int64 array of nanoseconds, series after series."""
    stamps = np.empty(sum(len(ix) for ix in indexes), dtype=np.int64)
    at = 0
    for ix in indexes:
        stamps[at:at + len(ix)] = ix.as_unit("ns").asi8
        at += len(ix)
    return stamps


def _prepare_one(frames: dict[str, ValidFrame], name: str, cfg: FitConfig, bounds: dict[str, tuple[int, int]],
                 fitted: Fitted | None, test_after: pd.Timestamp | None, anchor: str) -> Prepared:
    try:
        return prepare(frames[name], cfg.lookback, cfg.horizon, cfg.val_size, cfg.test_size,
                       transform=cfg.transform, calendar=cfg.calendar, stride=cfg.stride, bounds=bounds,
                       anchor=anchor, fitted=fitted, holidays=holidays_of(cfg), network=cfg.model)
    except DataError as err:
        if len(frames) == 1:
            raise
        val_start, test_start = split_times(frames, cfg.val_size, cfg.test_size, test_after)
        raise DataError(f"series {name!r} (the splits start at {val_start} and {test_start}): "
                        f"{err}; drop this series or give it more history") from None


def holidays_of(cfg: FitConfig) -> Holidays | None:
    """The holiday calendar of `--holidays`, dated in the log's `--tz` where given."""
    return Holidays(cfg.holidays.upper(), cfg.tz) if cfg.holidays else None


def prepare_panel(frames: dict[str, ValidFrame], cfg: FitConfig, fitted: list[Fitted] | None = None,
                  test_after: pd.Timestamp | None = None) -> Panel:
    """Prepare each series with its own transforms and scalers and the shared split times;
    `fitted` (one per series) and `test_after` for a model learning from newer data (see
    `prepare` and `split_bounds`)."""
    bounds_of = split_bounds(frames, cfg.val_size, cfg.test_size, cfg.split_rows, test_after)
    fitted_of = fitted or [None] * len(frames)
    prepared = [_prepare_one(frames, name, cfg, bounds, f, test_after, cfg.anchor)
                for name, bounds, f in zip(frames, bounds_of, fitted_of)]
    first = prepared[0]
    if any(q.anchor != first.anchor for q in prepared):
        # One network, one anchor and one set of inputs. Where the series' validation rows
        # disagree: the value one season back if every series chose a seasonal anchor with the
        # same season, else the last value. Only the series that chose another anchor are
        # prepared again, each in its place (never a second list of every series beside the first).
        seasonal = all(q.anchor.kind != "last" and q.season == first.season for q in prepared)
        common = "seasonal" if seasonal else "last"
        note = (f"forecasts are changes from {'the value one season back' if seasonal else 'the last value'} "
                "(the series disagree on the anchor)")
        for i, (name, bounds, f) in enumerate(zip(frames, bounds_of, fitted_of)):
            if prepared[i].anchor.kind != common:
                prepared[i] = _prepare_one(frames, name, cfg, bounds, f, test_after, common)
            q = prepared[i]
            prepared[i] = replace(q, notes=(*q.notes[:-1], note))  # the anchor's note is the last
        first = prepared[0]
    for name, p in zip(frames, prepared):
        if p.input_names != first.input_names or p.transform != first.transform:
            raise DataError(f"series {name!r} has inputs {p.input_names} ({p.transform}), the first "
                            f"has {first.input_names} ({first.transform}); give every series the "
                            "same columns and sampling")
    offsets = np.cumsum([0, *(len(p.index) for p in prepared)])
    return Panel(list(frames), prepared, offsets)
