"""Seasonality: the period a series repeats with, detected on its training rows, and the anchor
a relative forecast starts from, chosen on its validation rows. numpy and pandas only.

- `detect_season`: the candidate periods come from the sampling step (a day and a week for
  intraday logs, a week and a year for daily ones, a year for weekly, monthly or quarterly
  ones: 12 calendar months, 4 quarters); the one
  whose autocorrelation of the first differences over the training rows is highest (the
  shorter one when a longer period, a multiple, scores about the same), and at least
  `MIN_AUTOCORRELATION`, is the season. Without one, the season stays the one the
  sampling step suggests (`forecaster.data.frame`), used by the seasonal-naive baseline only.
- `choose_anchor`: the network of a relative transform predicts each step's change from an
  `Anchor` known at the cutoff: the last value (naive), the value one season before the
  target (seasonal naive), or the seasonal mean (the same phase averaged over several seasons
  and shifted to the latest season's level). "auto" takes a seasonal anchor where seasonal
  naive's MAE on the validation windows (never the test ones) is under
  `SEASONAL_ANCHOR_RATIO` of naive's, for every network but those of `LAST_VALUE_NETWORKS`,
  which keep the last value; of the two seasonal anchors, the one with the lower validation MAE.
- `seasonal_change`: with the seasonal anchor the network also reads each target's change over
  one season, y[t] - y[t - season], as an input column (`change_names`): the history of exactly
  what it predicts, scale-free, and the season's structure even where the season is longer
  than the lookback (a week of half-hours). The first `season` rows of each stretch between
  gaps have no such change, so no window holds them (`forecaster.data.prepare.blocked_rows`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.data.frame import Step, calendar_months
from forecaster.errors import ConfigError

MIN_AUTOCORRELATION = 0.2  # of the first differences at the season's lag
# "auto" anchors on the value one season back only where seasonal naive's validation MAE is
# under this share of naive's: a series that mostly repeats its season (climate normals, load
# profiles, ETTh1's daily load cycle). Where the season helps less, the network does better
# from the last value, which it sees with the whole season inside its window. Set from the
# default LSTM trained under both anchors and compared on validation windows (never test ones):
# ETTh1 at H = 96 (ratio 0.61) did better from the seasonal anchor (MAE 1.925 against 2.026),
# JFK temperature at H = 24 (0.75; 3.245 against 3.527) and the Mauna Loa CO2 series (0.79)
# from the last value.
SEASONAL_ANCHOR_RATIO = 0.7
# Networks that "auto" leaves on the last value wherever the season is: segrnn takes each
# window's last value out of its segments itself (--norm last) and decodes every future segment
# from one state. Its validation MAE on ETTh1 at H = 96 (segrnn.yaml, trained under both
# anchors) was 1.726 from the last value and 1.881 from the seasonal one (seasonal naive 1.915).
LAST_VALUE_NETWORKS = ("segrnn",)
# The seasonal mean averages the same phase over up to this many seasons, as many as the window
# holds (see `mean_seasons`). The validation windows of the unseen set (benchmarks/eval_unseen.py)
# favoured 4 seasons over 2 and 3 on six of the nine sensor logs (daily electricity demand: 0.904,
# 0.896 and 0.922 of seasonal naive's MAE with 4, 2 and 3).
MAX_MEAN_SEASONS = 4


def candidate_periods(freq: Step | None) -> list[int]:
    """Periods (in rows) worth testing for a sensor log sampled every `freq`."""
    if freq is None:  # trading sessions: prices keep the trading week of the frame
        return []
    months = calendar_months(freq)
    if months:  # a calendar grid: a year of steps, if a year is more than one
        return [12 // months] if months < 12 else []
    day, week, year = pd.Timedelta(days=1), pd.Timedelta(days=7), pd.Timedelta(days=365.25)
    if freq < day:
        return [int(span / freq) for span in (day, week) if span % freq == pd.Timedelta(0)]
    if freq == day:
        return [7, 365]
    if freq == week:
        return [52]
    if pd.Timedelta(days=28) <= freq <= pd.Timedelta(days=31):
        return [12]
    return [round(year / freq)] if freq < year / 4 else []


CHUNK = 1 << 20  # rows (or windows) per step over a long log: a few MB of temporaries, never (T,) ones


def autocorrelation(x: np.ndarray, lag: int) -> float:
    """Autocorrelation of a (T,) series at `lag` (NaN ignored), summed by chunks of pairs."""
    pairs = [(x[lag + a:lag + b], x[a:b]) for a in range(0, len(x) - lag, CHUNK)
             for b in [min(a + CHUNK, len(x) - lag)]]  # (x[t + lag], x[t]) by chunk of t
    ok = [np.isfinite(a) & np.isfinite(b) for a, b in pairs]
    count = sum(int(k.sum()) for k in ok)
    if count < 3:
        return float("nan")
    mean_a = sum(a[k].sum() for (a, _), k in zip(pairs, ok)) / count
    mean_b = sum(b[k].sum() for (_, b), k in zip(pairs, ok)) / count
    aa = bb = ab = 0.0
    for (a, b), k in zip(pairs, ok):  # one chunk of centred pairs at a time
        u, v = a[k] - mean_a, b[k] - mean_b
        aa, bb, ab = aa + (u * u).sum(), bb + (v * v).sum(), ab + (u * v).sum()
    denom = np.sqrt(aa * bb)
    return float(ab / denom) if denom > 0 else float("nan")


def changes(levels: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """(T,) levels -> (T - 1,) float64 first differences, NaN across a gap; by chunks."""
    out = np.empty(max(len(levels) - 1, 0))
    for a in range(0, len(out), CHUNK):
        b = min(a + CHUNK, len(out))
        out[a:b] = np.diff(levels[a:b + 1].astype(np.float64))
        out[a:b][segment[a + 1:b + 1] != segment[a:b]] = np.nan  # no difference across a gap
    return out


def detect_season(levels: np.ndarray, segment: np.ndarray, freq: Step | None,
                  fallback: int) -> tuple[int, str]:
    """The season of (T, C) training `levels` and a sentence saying how it was found."""
    scores = {}
    for m in candidate_periods(freq):
        if len(levels) - 1 >= 3 * m:  # at least three seasons of training rows
            scores[m] = float(np.nanmean([autocorrelation(changes(levels[:, c], segment), m)
                                          for c in range(levels.shape[1])]))
    scores = {m: s for m, s in scores.items() if np.isfinite(s)}
    if scores:
        top = max(scores.values())  # a week repeats the day too: the shortest period near the top
        best = min(m for m, s in scores.items() if s >= top - 0.05)
        if scores[best] >= MIN_AUTOCORRELATION:
            return best, (f"season {best} steps, detected on the training rows (autocorrelation of the "
                          f"changes {scores[best]:.2f})")
    tested = ", ".join(f"{m} ({s:.2f})" for m, s in scores.items()) or "none with enough training rows"
    return fallback, f"season {fallback} steps from the sampling step; no seasonality detected (tested {tested})"


def seasonal_offsets(season: int, horizon: int) -> np.ndarray:
    """(H,) rows from the cutoff to the value one season before each step's target (<= 0)."""
    h = np.arange(1, horizon + 1)
    return h - season * np.ceil(h / season).astype(np.int64)


@dataclass(frozen=True)
class Anchor:
    """What each step's forecast change starts from, a weighted sum of levels at or before the
    cutoff t (so known there), with weights summing to 1 (so it commutes with scaling):

    - `seasons` 1: the level at t + offsets[h]: 0 the last value, or the value one season
      before the target (seasonal naive, `seasonal_offsets`);
    - `seasons` k > 1, the seasonal mean: the same phase averaged over the last k seasons,
      shifted by how far the latest season's mean is from the mean of all k:
      mean_j y[t + offsets[h] - j*season] + mean(y[t-season+1 .. t]) - mean(y[t-k*season+1 .. t]),
      j = 0 .. k-1. Averaging the seasons takes out what one season's noise put into seasonal
      naive; the shift keeps a trend or a level change.
    """

    offsets: np.ndarray  # (H,) int64 rows from the cutoff, <= 0
    season: int = 0  # rows per season; 0 with the last value
    seasons: int = 1

    @classmethod
    def last(cls, horizon: int) -> Anchor:
        return cls(np.zeros(horizon, dtype=np.int64))

    @classmethod
    def seasonal(cls, season: int, horizon: int, seasons: int = 1) -> Anchor:
        return cls(seasonal_offsets(season, horizon), season, seasons)

    @property
    def kind(self) -> str:
        """"last", "seasonal" or "seasonal-mean" (the names of `--anchor`)."""
        return "seasonal-mean" if self.seasons > 1 else "seasonal" if self.offsets.any() else "last"

    @property
    def reach(self) -> int:
        """Rows before the cutoff that the anchor reads."""
        return max(int(-self.offsets.min(initial=0)), self.seasons * self.season - 1 if self.seasons > 1 else 0)

    def __eq__(self, other: object) -> bool:  # the offsets are an array: compared as a whole
        return isinstance(other, Anchor) and (self.season, self.seasons) == (other.season, other.seasons) \
            and np.array_equal(self.offsets, other.offsets)

    __hash__ = None  # an array inside

    def values(self, take: Callable, cutoffs):
        """(N, H, C) anchors of the windows whose cutoffs (N,) are given; `take(rows)` gives the
        (N, n, C) levels (or scaled levels) of (N, n) rows, as numpy arrays or torch tensors."""
        t = cutoffs[:, None]  # (N, 1)
        same = take(t + self.offsets)  # (N, H) rows -> (N, H, C)
        if self.seasons == 1:
            return same
        for j in range(1, self.seasons):
            same = same + take(t + (self.offsets - j * self.season))  # (N, H) rows -> (N, H, C)
        span = self.seasons * self.season
        seasons = take(t + np.arange(1 - span, 1))  # (N, k*s) rows -> (N, k*s, C), the latest season last
        recent = seasons[:, -self.season:].sum(1)[:, None] / self.season  # (N, s, C) -> (N, 1, C)
        whole = seasons.sum(1)[:, None] / span  # (N, k*s, C) -> (N, 1, C)
        return same / self.seasons + (recent - whole)

    def of_levels(self, levels: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
        """`values` from a (T, C) array, by chunks of windows for the seasonal mean, whose
        temporaries hold (n, seasons * season, C) rows: (N, H, C)."""
        if self.seasons == 1:
            return levels[cutoffs[:, None] + self.offsets]  # (N, H) rows -> (N, H, C)
        out = np.empty((len(cutoffs), len(self.offsets), levels.shape[1]))
        step = max(1, CHUNK // (self.reach + 1))
        for a in range(0, len(cutoffs), step):
            out[a:a + step] = self.values(levels.__getitem__, cutoffs[a:a + step])
        return out


def mean_seasons(season: int, lookback: int) -> int:
    """Seasons the seasonal mean averages: as many as a window (with the one season before it
    that the seasonal inputs need) holds, at most `MAX_MEAN_SEASONS`; under 2 there is none."""
    return min(MAX_MEAN_SEASONS, 1 + lookback // season) if season > 1 else 1


def mean_errors(levels: np.ndarray, cutoffs: np.ndarray, horizon: int, anchors: list[Anchor]) -> list[float]:
    """Mean absolute error of each anchor as the forecast of the H rows after the cutoffs (N,),
    by chunks of windows."""
    total, count = [0.0] * len(anchors), 0
    step = max(1, CHUNK // (horizon + max(a.reach for a in anchors) + 1))  # windows whose rows fill a chunk
    for a in range(0, len(cutoffs), step):
        t = cutoffs[a:a + step]  # (n,)
        actual = levels[t[:, None] + np.arange(1, horizon + 1)]  # (n, H) rows -> (n, H, C)
        for i, anchor in enumerate(anchors):
            total[i] = total[i] + np.abs(actual - anchor.of_levels(levels, t)).sum()
        count += actual.size
    return [x / max(count, 1) for x in total]


def choose_anchor(levels: np.ndarray, cutoffs: np.ndarray, horizon: int, season: int,
                  anchor: str = "auto", network: str = "", lookback: int = 0) -> tuple[Anchor, str]:
    """The anchor and why: `anchor` "last", "seasonal" or "seasonal-mean" as asked, "auto"
    decided on the validation windows whose `cutoffs` are given (windows that can see one season
    back), or the last value for a `network` of `LAST_VALUE_NETWORKS`. The seasonal mean
    averages `mean_seasons(season, lookback)` seasons."""
    last = Anchor.last(horizon)
    if anchor == "last":
        return last, "forecasts are changes from the last value (--anchor last)"
    if anchor == "auto" and network in LAST_VALUE_NETWORKS:
        return last, f"forecasts are changes from the last value ({network} takes each window's last value out itself)"
    if season <= 1:
        return last, "forecasts are changes from the last value (no season)"
    k = mean_seasons(season, lookback)
    if anchor == "seasonal-mean" and k < 2:
        raise ConfigError(f"--anchor seasonal-mean averages at least 2 seasons of {season} rows and needs "
                          f"--lookback {season} or more; raise --lookback or use --anchor seasonal")
    candidates = [last, Anchor.seasonal(season, horizon), *([Anchor.seasonal(season, horizon, k)] if k > 1 else [])]
    naive, seasonal, *smooth = mean_errors(levels, cutoffs, horizon, candidates)
    scores = [*(f"seasonal mean of {k} seasons {e:.4g}" for e in smooth), f"seasonal naive {seasonal:.4g}",
              f"naive {naive:.4g}"]
    compared = "validation MAE: " + ", ".join(scores)
    if anchor == "seasonal-mean" or (anchor == "auto" and len(cutoffs) and seasonal < SEASONAL_ANCHOR_RATIO * naive
                                     and smooth and smooth[0] < seasonal):
        return candidates[2], (f"forecasts are changes from the seasonal mean (the same phase averaged over "
                               f"{k} seasons, shifted to the latest season's level), and the network reads "
                               f"each target's change over the season ({compared})")
    if anchor == "seasonal" or (len(cutoffs) and seasonal < SEASONAL_ANCHOR_RATIO * naive):
        return candidates[1], (f"forecasts are changes from the value one season back, and the network reads "
                               f"each target's change over the season ({compared})")
    return last, f"forecasts are changes from the last value ({compared})"


def change_names(targets: list[str], season: int) -> list[str]:
    """The names of the seasonal-change inputs of `targets`, e.g. temp_change_24."""
    return [f"{t}_change_{season}" for t in targets]


def seasonal_change(values: np.ndarray, season: int, blocked: np.ndarray) -> np.ndarray:
    """(T,) levels -> (T,) float64 values[t] - values[t - season], 0 on the `blocked` rows (the
    first `season` rows of each stretch, which have no value one season back in it)."""
    out = np.zeros(len(values))
    for a in range(season, len(values), CHUNK):
        b = min(a + CHUNK, len(values))
        out[a:b] = values[a:b].astype(np.float64) - values[a - season:b - season]
    out[blocked] = 0.0
    return out
