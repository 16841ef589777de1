"""The torch-free half of a forecast: fresh data in, the network's input windows out; the
network's model-space mean back in, the table of future timestamps, forecasts and interval
bounds out.

`forecaster.runs.predict` (torch) and `forecaster.export.runtime.OnnxForecaster` (onnxruntime)
run the network between `network_inputs` and `assemble`; everything else is here, once, so the
two give the same table. numpy and pandas only.

Known-future inputs (a model fitted with --future-features or --holidays): their values over
the H future timestamps come from a future file (`read_future`: a time column, the future
columns and, for several series, the series column), checked to hold every step, and from the
holiday calendar; `model_future` scales them as the model was trained.

Future timestamps: for prices, the exchange's next trading sessions from the maintained
`exchange_calendars` package (holidays skipped); for sensor logs, the last timestamp plus
multiples of the sampling step (exchange_calendars is imported for prices only).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.config import FitConfig
from forecaster.data.frame import Step, ValidFrame, ticks
from forecaster.data.holidays import HOLIDAY
from forecaster.data.prepare import anchor_levels, model_inputs, to_levels
from forecaster.data.rows import future_relative_to_cutoff, relative_to_cutoff
from forecaster.data.select import load_series
from forecaster.data.sources.files import load_file
from forecaster.errors import ConfigError, DataError
from forecaster.runs.card import ModelCard, SeriesCard


@dataclass
class NetworkInputs:
    """What a forecast reads after the last rows of fresh data (see `network_inputs`)."""

    frames: dict[str, ValidFrame]  # the fresh data, by series
    x: np.ndarray  # (S, L, F) the last window of every series
    future: np.ndarray | None  # (S, H, K) known-future inputs, or None for a model without them
    stamps: dict[str, pd.DatetimeIndex]  # each series' H future timestamps


@dataclass
class Future:
    table: pd.DataFrame  # indexed by the future timestamps; a `series` column for several series
    history: dict[str, pd.DataFrame]  # recent observed targets, by series
    cutoff: pd.Timestamp  # the last observation (the latest over series)


def new_data(cfg: FitConfig, card: ModelCard, csv: str | None = None, time_col: str | None = None,
             offline: bool = False) -> dict[str, ValidFrame]:
    """Every series of the card, by its name: the run's data refreshed, or `csv` (for a
    many-series run: a folder or a long-format file holding every series)."""
    columns = {"target": card.targets, "features": card.past_features or ["none"],
               "future_features": card.future_features or None, "static_features": None}  # the card's static
    if csv:
        data_cfg = replace(cfg, csv=csv, ticker=None, dataset=None, time_col=time_col or cfg.time_col,
                           kind=card.kind, **columns)
    else:
        data_cfg = replace(cfg, offline=offline or cfg.offline, **columns)
    return matched_series(card, load_series(data_cfg))


def network_inputs(card: ModelCard, cfg: FitConfig, load: Callable[[], dict[str, ValidFrame]],
                   future: str | Path | None, source: str) -> NetworkInputs:
    """The fresh data (`load()`), each series' future timestamps (computed once here) and what
    the network reads for a forecast after their last rows: the (S, L, F) last windows, and the
    (S, H, K) known-future inputs from the `future` file (see `read_future`) and the holiday
    calendar, or None for a model without them. A model
    with future features and no file, or a file for a model without them, is refused in one line
    naming `source`, before any data are loaded."""
    needed = card.future_features
    if needed and future is None:
        raise ConfigError(f"{source} reads {', '.join(needed)} over the {card.horizon} steps it "
                          f"forecasts; give their values with --future FILE (the time column first, then "
                          f"{', '.join(needed)}{', and the series column' if card.many else ''})")
    if future is not None and not needed:
        raise ConfigError(f"{source} was fitted without future features (--future-features); drop --future")
    frames = load()
    stamps = {s.name: future_stamps(card, frames[s.name], cfg.exchange) for s in card.series}
    given = read_future(future, card, frames, stamps, cfg.series_col, tz=cfg.tz) if needed else {}
    last = last_windows(card, frames)  # (S, L, F)
    ahead = model_future(card, stamps, given, last)  # (S, H, K) or None, read before...
    return NetworkInputs(frames, model_windows(card, frames, last), ahead, stamps)  # ... the window transform changes `last`


def last_windows(card: ModelCard, frames: dict[str, ValidFrame]) -> np.ndarray:
    """(S, L, F) float32: the last window of every series in model space, in the card's order,
    before the window transform (see `model_windows`)."""
    return np.stack([last_window(card, s, frames[s.name]) for s in card.series])  # S x (L, F) -> (S, L, F)


def model_windows(card: ModelCard, frames: dict[str, ValidFrame], last: np.ndarray | None = None) -> np.ndarray:
    """The network's (S, L, F) float32 input: `last_windows` (computed, or given as `last` and
    then changed in place) under the card's window transform."""
    x = last if last is not None else last_windows(card, frames)
    return relative_to_cutoff(x, card.relative_inputs) if card.relative_inputs else x


def model_future(card: ModelCard, stamps: dict[str, pd.DatetimeIndex], given: dict[str, pd.DataFrame],
                 last: np.ndarray) -> np.ndarray | None:
    """The network's (S, H, K) float32 known-future input over each series' next H timestamps
    (`stamps`):
    the future features from `given` (see `read_future`) scaled by the series' saved scaler,
    then the holiday flag, under the window transform relative to `last_windows`' cutoff rows
    (read, not changed); None for a model without known-future inputs."""
    if not card.future:
        return None
    out = np.empty((len(card.series), card.horizon, len(card.future)), dtype=np.float32)  # (S, H, K)
    for i, s in enumerate(card.series):
        for k, name in enumerate(card.future):
            if name == HOLIDAY:
                out[i, :, k] = card.holidays.flags(stamps[s.name])
                continue
            j = card.inputs.index(name)  # a data column: its scaler's position
            out[i, :, k] = (given[s.name][name].to_numpy() - s.input_scaler.mean[j]) / s.input_scaler.std[j]
    columns = [card.inputs.index(n) for n in card.future]
    return future_relative_to_cutoff(out, last, columns, card.relative_inputs) if card.relative_inputs else out


def read_future(path: str | Path, card: ModelCard, frames: dict[str, ValidFrame],
                stamps: dict[str, pd.DatetimeIndex], series_col: str | None = None,
                time_col: str | None = None, tz: str | None = None) -> dict[str, pd.DataFrame]:
    """The future features of each series over its next H timestamps (`stamps`), in original units, from a
    CSV or parquet file: a time column (`time_col`, default the first), the card's future
    feature columns and, for several series, `series_col` (default `series`). Extra rows and
    columns are ignored; a missing column, series, timestamp or value is refused in one line
    naming the first one missing."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"future file not found: {path}; check the --future path")
    needed = card.future_features
    col = (series_col or "series") if card.many else None
    raw = load_file(path, time_col=time_col, tz=tz)  # every column but the time
    missing = [c for c in [*([col] if col else []), *needed] if c not in raw.columns]
    if missing:
        what = "the series column" if missing[0] == col else "a future feature of the model"
        raise DataError(f"{path} has no column {missing[0]!r} ({what}); its columns are "
                        f"{', '.join(map(str, raw.columns))}; give {', '.join(needed)}"
                        f"{f' and {col}' if col else ''} beside the time column")
    out = {}
    for s in card.series:
        frame, steps = frames[s.name], stamps[s.name]
        rows = raw[raw[col].astype(str) == s.name] if col else raw
        if col and rows.empty:
            raise DataError(f"{path} has no rows of series {s.name!r} in its column {col!r}; give the future "
                            f"features of every series the model forecasts")
        have = pd.DatetimeIndex(rows.index)
        if (have.tz is None) != (steps.tz is None):  # naive times are read in the data's zone, UTC
            have = have.tz_localize("UTC") if have.tz is None else have.tz_convert(None)
        if have.has_duplicates:
            raise DataError(f"{path} has two rows for {have[have.duplicated()][0]}{_of(s.name, card)}; "
                            "keep one row per timestamp")
        at = have.as_unit("ns").get_indexer(steps.as_unit("ns"))  # (H,) row of each step, -1: none
        if (at < 0).any():
            first = steps[int(np.argmax(at < 0))]
            raise DataError(f"{path} has no row for {first}{_of(s.name, card)}, step {int(np.argmax(at < 0)) + 1} "
                            f"of the {card.horizon} after the last observation ({frame.data.index[-1]}); "
                            f"give {', '.join(needed)} for every step from {steps[0]} to {steps[-1]}")
        values = rows.iloc[at][needed].apply(pd.to_numeric, errors="coerce").set_axis(steps)
        bad = values.isna().to_numpy()
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise DataError(f"{path} has no numeric value of {needed[c]!r} at {steps[r]}{_of(s.name, card)}; "
                            "fill in every future value the forecast reads")
        out[s.name] = values.astype("float64")
    return out


def _of(name: str, card: ModelCard) -> str:
    return f" of series {name!r}" if card.many else ""


def future_stamps(card: ModelCard, frame: ValidFrame, exchange: str) -> pd.DatetimeIndex:
    """The H timestamps after a series' last observation (see `future_index`)."""
    return future_index(frame.data.index[-1], card.horizon, card.kind, frame.freq, exchange, frame.data.index)


def assemble(card: ModelCard, inputs: NetworkInputs, mean: np.ndarray) -> Future:
    """The forecast table from the network's model-space mean (S, H, C) on `network_inputs`:
    original units, future timestamps and the card's conformal interval bounds."""
    frames = inputs.frames
    mean = np.asarray(mean, dtype="float64")
    tables, history = [], {}
    C = len(card.targets)
    for i, s in enumerate(card.series):
        frame = frames[s.name]
        levels = frame.data[card.targets].to_numpy(dtype="float64")
        anchor = anchor_levels(levels, np.array([len(levels) - 1]), card.transform, card.anchor)
        point = to_levels(mean[i:i + 1], anchor, card.transform, s.target_scaler(C), s.shrink)  # (1, H, C)
        if not np.isfinite(point).all():
            raise DataError(f"the forecast of {s.name!r} is not finite (inf or NaN): the new data drive "
                            f"the model far outside what it was trained on; check the data after "
                            f"{frame.data.index[-card.lookback]} for unit changes or extreme values")
        bounds = s.conformal.bounds(point)
        per_target = {name: pd.DataFrame({"forecast": point[0, :, c],
                                          **{k: v[0, :, c] for k, v in bounds.items()}},
                                         index=inputs.stamps[s.name])
                      for c, name in enumerate(card.targets)}
        table = pd.concat(per_target, names=["target", "timestamp"]).reset_index("target")
        tables.append(table.assign(series=s.name)[["series", *table.columns]] if card.many else table)
        history[s.name] = frame.data[card.targets].iloc[-3 * card.lookback:]
    cutoff = max(frames[s.name].data.index[-1] for s in card.series)
    return Future(pd.concat(tables), history, cutoff)


def matched_series(card: ModelCard, frames: dict[str, ValidFrame]) -> dict[str, ValidFrame]:
    """The refreshed frame of every series of the card, by the card's names."""
    if not card.many:  # one series: whatever the new source is called
        return {card.series[0].name: next(iter(frames.values()))}
    missing = [s.name for s in card.series if s.name not in frames]
    if missing:
        raise DataError(f"the new data have no series {missing[0]!r} ({len(missing)} of the model's "
                        f"{len(card.series)} missing; they hold {', '.join(list(frames)[:5])}); give data "
                        "for every series the model was trained on")
    return {s.name: frames[s.name] for s in card.series}


def last_window(card: ModelCard, s: SeriesCard, frame: ValidFrame) -> np.ndarray:
    """(L, F) model-space inputs of the last L rows, with the series' saved transforms and scaler."""
    L = card.lookback
    calendar = any(c != HOLIDAY for c in card.calendar)  # the made columns: holiday flag, then calendar
    inputs, names, _, blocked, _ = model_inputs(frame, card.transform, calendar, s.input_scaler,
                                                transforms=s.column_transforms, holidays=card.holidays,
                                                static=s.static, season_lag=card.season_lag)
    if names != card.inputs:
        raise DataError(f"the new data of {s.name!r} give inputs {names}, the model was trained on "
                        f"{card.inputs}; use data with the same columns and sampling")
    tail = slice(len(inputs) - L, len(inputs))
    seg = frame.segment[tail]
    if len(inputs) < L or blocked[tail].any() or (seg != seg[-1]).any():
        need = f"the lookback of {L}" + (f" plus the season of {card.season_lag} its seasonal-change inputs "
                                          "look back" if card.season_lag else "")
        raise DataError(f"the data of {s.name!r} end with {int((frame.segment == frame.segment[-1]).sum())} "
                        f"usable rows after the last gap, fewer than {need} the model needs; "
                        "give a longer recent history")
    return inputs.take(np.arange(tail.start, tail.stop)[None])[0]  # (1, L) rows -> (1, L, F) -> (L, F)


def future_index(last: pd.Timestamp, horizon: int, kind: str, freq: Step | None,
                 exchange: str, index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The H timestamps after `last`: trading sessions for prices, the sampling grid for sensors
    (on a calendar grid the next H month starts, or ends, of its step)."""
    if kind != "price":  # `last + freq` is the next grid point for a Timedelta or a calendar offset
        return pd.date_range(last + freq, periods=horizon, freq=freq, name="timestamp")
    import exchange_calendars as xc  # about 0.1 s of imports, for prices only

    step = ticks(index, np.median(np.diff(index.asi8[-50:]))) if len(index) > 2 else pd.Timedelta(days=1)
    try:
        with warnings.catch_warnings():  # exchange_calendars' own use of a pandas 3.1 deprecation
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray that drops "
                                    "timezone information", category=DeprecationWarning)
            cal = xc.get_calendar(exchange, start=(last - pd.Timedelta(days=10)).tz_localize(None).normalize(),
                                  end=(last + pd.Timedelta(days=30 + 3 * horizon * max(step.days, 1))).tz_localize(None).normalize())
    except (xc.errors.InvalidCalendarName, ValueError) as err:
        raise ConfigError(f"unknown or unusable exchange calendar {exchange!r} ({err}); "
                          "use a code such as XNYS, XLON, XTKS") from None
    if step >= pd.Timedelta(hours=20):  # daily bars (median spacing one day)
        sessions = cal.sessions[cal.sessions > last.tz_localize(None).normalize()]
        if step >= pd.Timedelta(days=5):  # weekly or monthly bars: keep the bar spacing
            sessions = pd.date_range(last, periods=horizon + 1, freq=pd.infer_freq(index[-5:]) or step)[1:]
        return pd.DatetimeIndex(sessions[:horizon], name="timestamp")
    raise ConfigError("predict handles daily or longer price bars; for intraday bars the future "
                      "trading minutes are not supported yet (use --kind sensor to step by the bar size)")
