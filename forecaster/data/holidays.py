"""Public holidays as a known-future input (`--holidays US`), from the maintained `holidays`
package (imported only when asked for).

A holiday is known years ahead, so the column is made from the timestamps alone, like the
calendar columns: over the lookback from the data's own index, over the horizon from the future
timestamps (`forecaster.runs.future`). A row is a holiday when its date is one of the country's
(or subdivision's) public holidays; the date is that of the timestamp as stored, which is UTC for
data with a time zone (an hourly log in UTC marks the holiday from midnight UTC).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.errors import ConfigError

HOLIDAY = "holiday"  # the input column's name


def holiday_flags(index: pd.DatetimeIndex, code: str) -> np.ndarray:
    """(T,) float32: 1 where the row's date is a public holiday of `code` (US, GB, US-NY, ...)."""
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
    stamps = index.tz_convert(None) if index.tz is not None else index  # UTC wall time where aware
    row_days = stamps.to_numpy().astype("datetime64[D]")  # (T,)
    return np.isin(row_days, days).astype(np.float32)
