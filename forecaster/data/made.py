"""The inputs made besides the data columns, from the timestamps and the series' attributes:
the holiday flag (`forecaster.data.holidays`), the cyclical calendar columns and the encoded
static attributes (`forecaster.data.static`). Each is made when called, as a (T,) float32 column
that needs no scaling, so only one exists at a time; the same code makes them for training
(`forecaster.data.prepare`) and for a forecast (`forecaster.runs.future`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from forecaster.data.frame import Step, calendar_months, ticks
from forecaster.data.holidays import HOLIDAY, Holidays


def made_columns(index: pd.DatetimeIndex, freq: Step | None, calendar: bool,
                 holidays: Holidays | None, static: dict[str, float] | None = None
                 ) -> dict[str, Callable[[], np.ndarray]]:
    """The inputs made besides the data columns, after them: the holiday flag (with a
    `holidays` calendar), the calendar columns (with `calendar`), then the series' encoded static
    attributes, each constant over the rows (`forecaster.data.static`)."""
    made = {HOLIDAY: lambda: holidays.flags(index)} if holidays else {}
    made.update(calendar_columns(index, freq) if calendar else {})
    for name, value in (static or {}).items():
        made[name] = lambda v=value: np.full(len(index), v, dtype=np.float32)
    return made


def calendar_columns(index: pd.DatetimeIndex, freq: Step | None) -> dict[str, Callable[[], np.ndarray]]:
    """Cyclical time features known in advance, by name: each makes its (T,) float32 column in
    [-1, 1] when called, so only one column exists at a time. A log on a calendar grid gets the
    month of the year only (none when yearly): its hour, weekday and day of the year say nothing
    the month does not."""
    cols: dict[str, Callable[[], np.ndarray]] = {}

    def cyc(name: str, value: Callable[[], np.ndarray], period: float) -> None:
        cols[f"{name}_sin"] = lambda: np.sin(2 * np.pi / period * value(), dtype=np.float32)
        cols[f"{name}_cos"] = lambda: np.cos(2 * np.pi / period * value(), dtype=np.float32)
    months = calendar_months(freq)
    if months:
        if months < 12:
            cyc("month", lambda: index.month.to_numpy() - 1, 12)
        return cols
    step = freq if freq is not None else ticks(index, np.median(np.diff(index.asi8))) if len(index) > 1 else None
    if step is not None and step < pd.Timedelta(days=1):  # intraday: sensors or price bars
        cyc("hour", lambda: index.hour.to_numpy() + index.minute.to_numpy() / 60, 24)
    cyc("weekday", lambda: index.day_of_week.to_numpy(), 7)
    cyc("yearday", lambda: index.day_of_year.to_numpy() - 1, 365.25)
    return cols
