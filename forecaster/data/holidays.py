"""Public holidays as a known-future input (`--holidays US`), from the maintained `holidays`
package (imported only when asked for).

A holiday is known years ahead, so the column is made from the timestamps alone, like the
calendar columns: over the lookback from the data's own index, over the horizon from the future
timestamps (`forecaster.runs.future`). A row is a holiday when its local date is one of the
country's (or subdivision's) public holidays: the date in the log's own time zone (`--tz`, given
for a log of naive local times) where it has one, else the date of the timestamp as stored (naive
local times as they are; a log with UTC offsets and no --tz is dated in UTC).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.errors import ConfigError

HOLIDAY = "holiday"  # the input column's name


@dataclass(frozen=True)
class Holidays:
    """The holiday flag's calendar: a country code, optionally with a subdivision (US, US-NY,
    AU-VIC), and the time zone whose dates count (None: the timestamps' own)."""

    code: str
    tz: str | None = None

    def flags(self, index: pd.DatetimeIndex) -> np.ndarray:
        """(T,) float32: 1 on the rows whose local date is a holiday."""
        local = index.tz_convert(self.tz) if self.tz and index.tz is not None else index
        return holiday_flags(local, self.code)

    def to_dict(self) -> dict:
        return {"code": self.code, "tz": self.tz}

    @classmethod
    def from_dict(cls, d: dict) -> Holidays:
        return cls(str(d["code"]), d.get("tz"))


def holiday_flags(index: pd.DatetimeIndex, code: str) -> np.ndarray:
    """(T,) float32: 1 where the row's date (in the index's own zone) is a public holiday of
    `code` (US, GB, US-NY, ...)."""
    import holidays  # about 0.1 s, only for a run with --holidays

    country, _, subdiv = code.upper().partition("-")
    if len(index) == 0:
        return np.zeros(0, dtype=np.float32)
    years = range(int(index.year.min()), int(index.year.max()) + 1)
    try:
        calendar = holidays.country_holidays(country, subdiv=subdiv or None, years=years)
    except NotImplementedError:
        raise ConfigError(f"--holidays {code}: the holidays package knows no such country or subdivision; "
                          "give an ISO code it lists, e.g. US, GB, DE, US-NY, AU-VIC") from None
    days = np.array(sorted(calendar), dtype="datetime64[D]")  # (n,) holiday dates
    row_days = index.tz_localize(None).to_numpy().astype("datetime64[D]")  # (T,) wall-clock dates
    return np.isin(row_days, days).astype(np.float32)
