"""The naive baselines every model is judged against, each from the data up to the cutoff only.

- naive: the last observed value, held for all H steps.
- seasonal_naive: the value one season earlier (season from the frequency: 24 for hourly
  data, 5 for trading days, 12 for monthly), repeated; looked up by timestamp across the gaps
  of a sensor log (on a calendar grid: the same calendar month a year back).
- drift: the last value plus h times the average change since the start of the series.
"""

from __future__ import annotations

import numpy as np

from forecaster.data.frame import shifted
from forecaster.data.prepare import Prepared

BASELINES = ("naive", "seasonal_naive", "drift")


def baseline_forecasts(p: Prepared, split: str) -> dict[str, np.ndarray]:
    """Each baseline's (N, H, C) forecasts for `split`'s windows."""
    t = p.cutoffs(split)  # (N,)
    h = np.arange(1, p.horizon + 1)  # (H,)
    last = p.levels[t][:, None, :]  # (N, C) -> (N, 1, C)
    naive = np.repeat(last, p.horizon, axis=1)  # (N, 1, C) -> (N, H, C)
    slope = (p.levels[t] - p.levels[0]) / np.maximum(t, 1)[:, None]  # (N, C)
    drift = last + h[None, :, None] * slope[:, None, :]  # (N, H, C)
    return {"naive": naive, "seasonal_naive": _seasonal(p, t, h), "drift": drift}


def _seasonal(p: Prepared, t: np.ndarray, h: np.ndarray) -> np.ndarray:
    m = p.season
    back = m * np.ceil(h / m).astype(np.int64) - h  # (H,) how far before the cutoff
    if p.freq is None:  # trading sessions: seasons count rows
        rows = np.maximum(t[:, None] - back[None, :], 0)  # (N, H)
        return p.levels[rows]
    # Regular grid with gaps dropped: look the season up by timestamp; naive if it is missing.
    stamps = p.index.asi8
    cutoffs = p.index[t]  # (N,)
    want = np.empty((len(t), len(h)), dtype=np.int64)  # (N, H) in index ticks
    for b in np.unique(back):  # one (N,) shift per distinct distance back
        want[:, back == b] = shifted(cutoffs, -int(b), p.freq)[:, None]
    pos = np.clip(np.searchsorted(stamps, want), 0, len(stamps) - 1)
    found = stamps[pos] == want
    rows = np.where(found, pos, t[:, None])
    return p.levels[rows]
