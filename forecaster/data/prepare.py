"""Split, transform and scale a validated frame into the arrays the windows are cut from.

Vocabulary (used everywhere): `lookback` L rows of inputs, `horizon` H rows ahead, `n_features`
F input columns, C target columns. A window starting at row s has inputs rows [s, s+L) and
targets rows [s+L, s+L+H); its *cutoff* is row s+L-1, the last row it may see.

Honesty rules this module enforces:
- Splits are chronological by row: train, then validation, then test (default 70/15/15).
- A window belongs to the split its targets fall in, and all of its targets fall in that one
  split; its inputs may reach back into earlier rows (known at the cutoff), never forward.
  Training windows lie wholly in the training rows.
- Scalers are fitted on the training rows only.
- A window never spans two segments (see `forecaster.data.frame`).

Transforms (`transform`), which decide what the network sees and predicts:
- "log_return" (default for prices): every column strictly positive on the training rows
  becomes its log return, every other column its first difference (decided once, on the
  training rows, and saved with the model as `column_transforms`: refreshed data never switch
  a column's transform); the network predicts the next H log returns of each target, mapped
  back to prices by compounding from the last observed price. Scale-free: prices that leave
  their training range (AAPL rose tenfold) stay in range for the network.
- "delta": standardized levels in; the network predicts each step's
  change from its anchor, added back at the output. The anchor is the last value or, where
  seasonal naive was far better than naive on the validation windows, the value one season
  before the target or the seasonal mean, whichever did better there (`forecaster.data.season`,
  `--anchor`); with a seasonal anchor the network also reads each target's change over one
  season (`season_inputs`).
- "window" (default for sensors): scale-free inputs: each window sees its data columns
  relative to their own values at its cutoff (so a trend or a level shift never leaves the
  training range); changes from the anchor out, as "delta".
- "level": standardized levels in, standardized levels out.

Known-future inputs (`--future-features`, `--holidays`): a column known for the whole horizon at
each cutoff stays a standardized level under every transform (a schedule or a forecast has no
meaningful return) and is read twice: over the lookback, as every input, and over the H rows
after the cutoff, as the network's `future` input (see `forecaster.data.windows`). A holiday
flag is made from the timestamps, like the calendar columns (`forecaster.data.holidays`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.config import TRANSFORMS, check_sizes
from forecaster.data.frame import Step, ValidFrame
from forecaster.data.holidays import HOLIDAY, Holidays
from forecaster.data.made import made_columns
from forecaster.data.rows import ScaledSeries, WindowStarts, stretches, window_starts, without_first
from forecaster.data.season import Anchor, change_names, choose_anchor, detect_season, seasonal_change
from forecaster.errors import ConfigError, DataError

SPLITS = ("train", "val", "test")
RELATIVE = ("delta", "window")  # transforms whose network predicts changes from an anchor
COLUMN_TRANSFORMS = ("log_return", "diff", "level")  # what one data column becomes before scaling


@dataclass(frozen=True)
class Scaler:
    """Per-column affine scaling fitted on training rows: z = (x - mean) / std (applied to
    the rows each batch gathers: see `ScaledSeries`)."""

    mean: np.ndarray  # (K,)
    std: np.ndarray  # (K,)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values * self.std + self.mean


@dataclass(frozen=True)
class Fitted:
    """What a trained model fixed about its data, kept when it learns from newer data
    (`forecaster update`): each column's transform, the input scaler (None: refit on the new
    training rows), the season and the anchor."""

    column_transforms: list[str]
    input_scaler: Scaler | None
    season: int
    anchor: Anchor
    season_lag: int = 0  # rows back of the seasonal-change inputs (0: none)


@dataclass(frozen=True)
class Prepared:
    """Everything downstream needs, as arrays aligned on the rows of `index`."""

    index: pd.DatetimeIndex  # (T,) timestamps
    levels: np.ndarray  # (T, C) targets in original units, the frame's float dtype
    scaled: ScaledSeries  # (T, F) model-space inputs, the targets first, scaled when gathered
    input_names: list[str]  # targets, features, season inputs, calendar, holiday, static
    target_names: list[str]
    season_inputs: list[str]  # each target's change over one season, with the seasonal anchor (data.season)
    future_names: list[str]  # inputs known over the horizon: future features, then the holiday flag
    static: dict[str, float]  # the last inputs, constant: the series' encoded static attributes
    transform: str
    column_transforms: list[str]  # per data column (targets, then features): see COLUMN_TRANSFORMS
    input_scaler: Scaler
    target_scaler: Scaler
    lookback: int
    horizon: int
    bounds: dict[str, tuple[int, int]]  # split -> [first, end) rows its targets may occupy
    starts: dict[str, WindowStarts]  # split -> (N,) window start rows, as runs
    segment: np.ndarray  # (T,) segment id of each row (see forecaster.data.frame)
    filled: np.ndarray  # (T, C) targets that were filled, not observed
    season: int
    freq: Step | None  # the frame's sampling step (forecaster.data.frame)
    kind: str
    anchor: Anchor  # what each step's change is forecast from (see data.season)
    stride: int  # rows between consecutive window starts
    notes: tuple[str, ...] = ()  # what validation noted, then what was detected or chosen (season, anchor)

    @property
    def n_features(self) -> int:
        return self.scaled.shape[1]

    @property
    def inputs(self) -> np.ndarray:
        """(T, F) float32 model-space inputs: a copy, for inspection (windows gather `scaled`)."""
        return self.scaled.to_array()

    @property
    def targets(self) -> np.ndarray:
        """(T, C) float32 model-space targets: a copy, as `inputs`."""
        return self.scaled.head(len(self.target_names)).to_array()

    @property
    def future_columns(self) -> list[int]:
        """Positions among the inputs of the columns read over the horizon (`future_names`)."""
        return [self.input_names.index(n) for n in self.future_names]

    @property
    def relative(self) -> bool:
        """The network predicts each step's change from its anchor (delta and window transforms)."""
        return self.transform in RELATIVE

    @property
    def relative_inputs(self) -> int:
        """Leading input columns each window sees relative to their value at its cutoff: the data
        columns under the window transform, else none."""
        return len(self.column_transforms) if self.transform == "window" else 0

    def target_frame(self) -> pd.DataFrame:
        """The targets in original units over every row, as a frame indexed by time."""
        return pd.DataFrame(self.levels, index=self.index, columns=self.target_names)

    def cutoffs(self, split: str) -> np.ndarray:
        """(N,) row of each window's last input, the cutoff."""
        return self.starts[split].rows() + self.lookback - 1

    def anchors(self, split: str) -> np.ndarray:
        """What `split`'s forecasts are mapped back from (see `anchor_levels`)."""
        return anchor_levels(self.levels, self.cutoffs(split), self.transform, self.anchor)

    def to_levels(self, pred: np.ndarray, split: str, shrink: float = 1.0) -> np.ndarray:
        """Model-space predictions (N, H, C) for `split`'s windows -> original units (N, H, C)."""
        return to_levels(pred, self.anchors(split), self.transform, self.target_scaler, shrink)

    def target_rows(self, split: str) -> np.ndarray:
        """(N, H) row of each of `split`'s window targets."""
        return self.cutoffs(split)[:, None] + np.arange(1, self.horizon + 1)

    def actuals(self, split: str) -> np.ndarray:
        """(N, H, C) true target levels of `split`'s windows."""
        return self.levels[self.target_rows(split)]


def resolve_transform(transform: str, kind: str) -> str:
    if transform not in TRANSFORMS:
        raise ConfigError(f"unknown transform {transform!r}; choose one of {', '.join(TRANSFORMS)}")
    if transform == "auto":
        return "log_return" if kind == "price" else "window"
    return transform


def blocked_head(transform: str, season_lag: int = 0) -> int:
    """Rows at the start of each stretch between gaps that no window may contain: under log
    returns the first (no return into it); with seasonal-change inputs the first `season_lag`
    (nothing one season back in the stretch)."""
    return 1 if transform == "log_return" else season_lag


def blocked_rows(frame: ValidFrame, transform: str, season_lag: int = 0) -> np.ndarray:
    """(T,) the rows of `blocked_head` as a mask."""
    skip = blocked_head(transform, season_lag)
    blocked = np.zeros(len(frame.segment), dtype=bool)
    if skip:
        for first, end in zip(*stretches(frame.segment)):  # a slice per stretch: no (R, skip) index array
            blocked[first:min(first + skip, end)] = True
    return blocked


def column_transforms(frame: ValidFrame, transform: str, fit_rows: slice) -> list[str]:
    """Each data column's transform, decided once on the `fit_rows` (training rows): under
    log_return a column strictly positive there gets log returns, any other its differences;
    under delta and level every column stays a level, and so does a known-future column always."""
    if transform != "log_return":
        return ["level"] * len(frame.columns)
    return ["level" if c in frame.future else
            "log_return" if (frame.data[c].to_numpy()[fit_rows] > 0).all() else "diff"
            for c in frame.columns]


def model_inputs(frame: ValidFrame, transform: str, calendar: bool, scaler: Scaler | None = None,
                 fit_rows: slice = slice(None), transforms: list[str] | None = None,
                 holidays: Holidays | None = None, static: dict[str, float] | None = None,
                 season_lag: int = 0) -> tuple[ScaledSeries, list[str], Scaler, np.ndarray, list[str]]:
    """The (T, F) network inputs, their names, the scaler (data columns, then season inputs),
    `blocked_rows` and each data column's transform. `season_lag` > 0 adds each target's change
    over that many rows (`forecaster.data.season.seasonal_change`) after the data columns.

    A level column stays the frame's own array, scaled when a batch gathers its rows (see
    `ScaledSeries`): a 10 M-row log needs no model-space copy. A column of returns or
    differences, and a calendar or holiday column, is made once, in chunks of rows, as a scaled
    float32 column (never a (T, F) float64 temporary). Without a `scaler`, one is fitted on `fit_rows`
    minus the blocked rows; without `transforms`, they are decided on `fit_rows` (see
    `column_transforms`). A fitted model passes both, so nothing is re-derived from new data.
    """
    data, columns = frame.data, frame.columns
    if transform == "log_return":
        nonpositive = [c for c in frame.targets if (data[c] <= 0).any()]
        if nonpositive:
            raise ConfigError(f"target {nonpositive[0]!r} has values <= 0, so it has no log returns; "
                              "use --transform delta")
    transforms = transforms or column_transforms(frame, transform, fit_rows)
    blocked = blocked_rows(frame, transform, season_lag)
    cal = made_columns(data.index, frame.freq, calendar, holidays, static)
    lagged = change_names(frame.targets, season_lag) if season_lag else []
    if set(lagged) & set(columns):
        raise ConfigError(f"the data already have a column {sorted(set(lagged) & set(columns))[0]!r}, the name "
                          "of a seasonal-change input; rename it, or give --anchor last")
    n = len(columns) + len(lagged)  # the scaled data columns and season inputs
    F = n + len(cal)
    mean, std = np.zeros(n), np.ones(n)
    cols, col_mean, col_std = [], np.zeros(F), np.ones(F)  # the ScaledSeries' columns and scaling
    for j, (c, how) in enumerate(zip([*columns, *lagged], [*transforms, *["season"] * len(lagged)])):
        col = data[c].to_numpy() if how != "season" else \
            seasonal_change(data[frame.targets[j - len(columns)]].to_numpy(), season_lag, blocked)  # (T,)
        if how in ("log_return", "diff"):
            col = _returns(col.astype(np.float64), how, c, data.index)
            col[blocked] = 0.0
        if scaler is None:
            mean[j], std[j] = _moments(col[fit_rows], blocked[fit_rows])
        else:
            mean[j], std[j] = scaler.mean[j], scaler.std[j]
        std[j] = std[j] if std[j] > 1e-12 else 1.0
        if how == "level":  # scaled when gathered
            cols.append(col)
            col_mean[j], col_std[j] = mean[j], std[j]
        else:  # scaled once: mean 0 and std 1 in the ScaledSeries
            cols.append(_scaled(col, mean[j], std[j]))
    cols.extend(make() for make in cal.values())
    inputs = ScaledSeries(cols, col_mean, col_std)
    return inputs, [*columns, *lagged, *cal], scaler or Scaler(mean, std), blocked, transforms


def _scaled(col: np.ndarray, mean: float, std: float) -> np.ndarray:
    """(T,) -> (T,) float32 (col - mean) / std, in float64 arithmetic by chunk."""
    out = np.empty(len(col), dtype=np.float32)
    for a, b in _chunks(len(col)):
        out[a:b] = (col[a:b] - mean) / std  # float64 arithmetic, float32 result
    return out


def _chunks(n: int, size: int = 1 << 20):
    return ((a, min(a + size, n)) for a in range(0, n, size))


def _moments(col: np.ndarray, skip: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of `col` where not `skip`, in float64, two passes by chunk."""
    count = int((~skip).sum())
    total = sum(float(col[a:b][~skip[a:b]].sum(dtype=np.float64)) for a, b in _chunks(len(col)))
    mean = total / max(count, 1)
    sq = sum(float(np.square(col[a:b][~skip[a:b]].astype(np.float64) - mean).sum())
             for a, b in _chunks(len(col)))
    return mean, (sq / max(count, 1)) ** 0.5


def anchor_levels(levels: np.ndarray, cutoffs: np.ndarray, transform: str, anchor: Anchor) -> np.ndarray:
    """The levels forecasts at `cutoffs` (N,) are mapped back from: for the relative transforms
    each step's `anchor` (N, H, C); otherwise the (N, C) levels at the cutoffs."""
    if transform in RELATIVE:
        return anchor.of_levels(levels, cutoffs)  # (N, H, C)
    return levels[cutoffs]


def to_levels(pred: np.ndarray, anchor: np.ndarray, transform: str, target_scaler: Scaler,
              shrink: float = 1.0) -> np.ndarray:
    """Model-space forecasts (N, H, C) -> original units, from the (N, C) levels at the cutoffs
    (or, for the relative transforms, the (N, H, C) anchor of each step). `shrink` (0 to 1, see
    forecaster.evaluation.shrink) scales the forecast change from the anchor: the log return
    under log_return, so 0 gives the anchor itself."""
    anchor = anchor[:, None, :] if anchor.ndim == 2 else anchor  # (N, C) -> (N, 1, C)
    if transform == "log_return":
        with np.errstate(over="ignore"):  # an exploded forecast becomes inf; callers refuse it by name
            return anchor * np.exp(shrink * np.cumsum(target_scaler.inverse(pred), axis=1))
    if transform in RELATIVE:
        return anchor + shrink * pred * target_scaler.std
    return anchor + shrink * (target_scaler.inverse(pred) - anchor) if shrink != 1.0 else target_scaler.inverse(pred)


def prepare(frame: ValidFrame, lookback: int, horizon: int, val_size: float = 0.15,
            test_size: float = 0.15, transform: str = "auto", calendar: bool = True,
            stride: int = 1, bounds: dict[str, tuple[int, int]] | None = None,
            anchor: str = "auto", fitted: Fitted | None = None, holidays: Holidays | None = None,
            network: str = "") -> Prepared:
    """Split chronologically, transform, fit scalers on train, and find every valid window.

    `bounds` (split -> [first, end) rows) replaces the fractional split, e.g. for backtest folds.
    `fitted` keeps a trained model's transforms, scaler, season and anchor instead of deciding
    them from these rows. `holidays` adds the holiday flag, a known-future input. `network`
    (the model's name) matters to the "auto" anchor only (`season.choose_anchor`).
    """
    check_sizes(lookback, horizon, val_size, test_size, stride)
    transform = resolve_transform(transform, frame.kind)
    T, C = len(frame.data), len(frame.targets)
    if holidays and frame.kind == "price":
        raise ConfigError("--holidays is for sensor logs: the rows of a price series are trading sessions, "
                          "which the exchange calendar (--exchange) already knows; drop --holidays")
    if holidays and HOLIDAY in frame.columns:
        raise ConfigError(f"the data already have a column {HOLIDAY!r}; give it as --future-features {HOLIDAY}, "
                          "or drop --holidays")
    if bounds is None:
        train_end = int(round(T * (1 - val_size - test_size)))
        val_end = int(round(T * (1 - test_size)))
        bounds = {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, T)}
    levels = frame.data[frame.targets].to_numpy()  # a view where the frame has one target
    train = slice(*bounds["train"])
    season, season_note = (frame.season, None) if frame.kind == "price" else \
        detect_season(levels[train], frame.segment[train], frame.freq, frame.season)
    runs = stretches(frame.segment)  # (first, end) rows of each stretch between gaps
    chosen, anchor_note, lag = Anchor.last(horizon), None, 0
    if fitted is not None:
        season, season_note, lag, chosen = fitted.season, None, fitted.season_lag, fitted.anchor
    elif transform in RELATIVE:  # decided on the validation windows that can see one season back
        val = window_starts(without_first(runs, season), lookback, horizon, *bounds["val"], stride)
        chosen, anchor_note = choose_anchor(levels, val.rows() + lookback - 1, horizon, season, anchor, network,
                                            lookback)
        lag = season if chosen.offsets.any() else 0
        if lag and anchor == "auto" and not all(len(window_starts(without_first(runs, lag), lookback, horizon,
                                                                  *bounds[k], stride)) for k in SPLITS):
            chosen, lag = Anchor.last(horizon), 0
            anchor_note = ("forecasts are changes from the last value (a split has no window that can see "
                           "one season back)")
    inputs, names, scaler, blocked, transforms = model_inputs(
        frame, transform, calendar, fitted.input_scaler if fitted else None,
        fit_rows=train, transforms=fitted.column_transforms if fitted else None,
        holidays=holidays, static=frame.static, season_lag=lag)

    runs = without_first(runs, blocked_head(transform, lag))  # no window holds a blocked row
    starts = {split: window_starts(runs, lookback, horizon, *bounds[split], stride) for split in SPLITS}
    for split in SPLITS:
        if len(starts[split]) == 0:
            raise DataError(_too_short(split, T, lookback, horizon, bounds[split], val_size, test_size, lag))
    return Prepared(index=frame.data.index, levels=levels, scaled=inputs,  # inputs start with the targets
                    input_names=names, target_names=list(frame.targets), transform=transform,
                    season_inputs=change_names(frame.targets, lag) if lag else [],
                    future_names=[*frame.future, *([HOLIDAY] if holidays else [])],
                    static=dict(frame.static),
                    column_transforms=transforms,
                    input_scaler=scaler, target_scaler=Scaler(scaler.mean[:C], scaler.std[:C]),
                    lookback=lookback, horizon=horizon, bounds=bounds, starts=starts,
                    segment=frame.segment, filled=frame.filled, season=season,
                    freq=frame.freq, kind=frame.kind, anchor=chosen, stride=stride,
                    notes=(*frame.notes, *(n for n in (season_note, anchor_note) if n)))


def _returns(values: np.ndarray, how: str, name: str, index: pd.DatetimeIndex) -> np.ndarray:
    """(T,) -> (T,): a column's log returns ("log_return") or first differences ("diff")."""
    out = np.empty_like(values)
    out[0] = 0.0
    if how == "diff":
        out[1:] = np.diff(values)
        return out
    bad = np.flatnonzero(values <= 0)
    if len(bad):
        raise DataError(f"column {name!r} is {values[bad[0]]:g} at {index[bad[0]]}, but the model takes "
                        "its log returns (it was strictly positive on the training rows); drop it from "
                        "--features or use --transform delta")
    out[1:] = np.diff(np.log(values))
    return out


def _too_short(split: str, T: int, lookback: int, horizon: int, bound: tuple[int, int],
               val_size: float, test_size: float, lag: int = 0) -> str:
    smallest = min(val_size, test_size)
    need = int(np.ceil((horizon + 1) / smallest)) + lookback + lag
    season = f" + the season of {lag} rows its seasonal-change inputs look back" if lag else ""
    return (f"the series has {T} usable rows, too short for lookback {lookback} + horizon {horizon}{season}: "
            f"the {split} split (rows {bound[0]}..{bound[1]}) holds no complete window without gaps; "
            f"use at least ~{need} rows, or a smaller --lookback/--horizon")
