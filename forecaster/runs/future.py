"""The torch-free half of a forecast: fresh data in, the network's input windows out; the
network's model-space mean back in, the table of future timestamps, forecasts and interval
bounds out.

`forecaster.runs.predict` (torch) and `forecaster.export.runtime.OnnxForecaster` (onnxruntime)
run the network between `model_windows` and `assemble`; everything else is here, once, so the
two give the same table. numpy and pandas only.

Future timestamps: for prices, the exchange's next trading sessions from the maintained
`exchange_calendars` package (holidays skipped); for sensor logs, the last timestamp plus
multiples of the sampling step (exchange_calendars is imported for prices only).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from forecaster.config import FitConfig
from forecaster.data.frame import ValidFrame, ticks
from forecaster.data.prepare import anchor_levels, model_inputs, relative_to_cutoff, to_levels
from forecaster.data.select import load_series
from forecaster.errors import ConfigError, DataError
from forecaster.runs.card import ModelCard, SeriesCard


@dataclass
class Future:
    table: pd.DataFrame  # indexed by the future timestamps; a `series` column for several series
    history: dict[str, pd.DataFrame]  # recent observed targets, by series
    cutoff: pd.Timestamp  # the last observation (the latest over series)


def new_data(cfg: FitConfig, card: ModelCard, csv: str | None = None, time_col: str | None = None,
             offline: bool = False) -> dict[str, ValidFrame]:
    """Every series of the card, by its name: the run's data refreshed, or `csv` (for a
    many-series run: a folder or a long-format file holding every series)."""
    features = card.features or ["none"]
    if csv:
        data_cfg = replace(cfg, csv=csv, ticker=None, dataset=None, time_col=time_col or cfg.time_col,
                           target=card.targets, features=features, kind=card.kind)
    else:
        data_cfg = replace(cfg, offline=offline or cfg.offline, target=card.targets, features=features)
    return matched_series(card, load_series(data_cfg))


def model_windows(card: ModelCard, frames: dict[str, ValidFrame]) -> np.ndarray:
    """The network's (S, L, F) float32 input: the last window of every series, in the card's order."""
    x = np.stack([last_window(card, s, frames[s.name]) for s in card.series])  # S x (L, F) -> (S, L, F)
    return relative_to_cutoff(x, card.relative_inputs) if card.relative_inputs else x


def assemble(card: ModelCard, frames: dict[str, ValidFrame], mean: np.ndarray, exchange: str) -> Future:
    """The forecast table from the network's model-space mean (S, H, C) on `model_windows`:
    original units, future timestamps and the card's conformal interval bounds."""
    mean = np.asarray(mean, dtype="float64")
    tables, history = [], {}
    C = len(card.targets)
    for i, s in enumerate(card.series):
        frame = frames[s.name]
        levels = frame.data[card.targets].to_numpy(dtype="float64")
        anchor = anchor_levels(levels, np.array([len(levels) - 1]), card.transform,
                               np.asarray(card.anchor_offsets))
        point = to_levels(mean[i:i + 1], anchor, card.transform, s.target_scaler(C))  # (1, H, C)
        if not np.isfinite(point).all():
            raise DataError(f"the forecast of {s.name!r} is not finite (inf or NaN): the new data drive "
                            f"the model far outside what it was trained on; check the data after "
                            f"{frame.data.index[-card.lookback]} for unit changes or extreme values")
        bounds = s.conformal.bounds(point)
        stamps = future_index(frame.data.index[-1], card.horizon, card.kind, frame.freq, exchange,
                              frame.data.index)
        per_target = {name: pd.DataFrame({"forecast": point[0, :, c],
                                          **{k: v[0, :, c] for k, v in bounds.items()}}, index=stamps)
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
    inputs, names, _, blocked, _ = model_inputs(frame, card.transform, bool(card.calendar), s.input_scaler,
                                                transforms=s.column_transforms)
    if names != card.inputs:
        raise DataError(f"the new data of {s.name!r} give inputs {names}, the model was trained on "
                        f"{card.inputs}; use data with the same columns and sampling")
    tail = slice(len(inputs) - L, len(inputs))
    seg = frame.segment[tail]
    if len(inputs) < L or blocked[tail].any() or (seg != seg[-1]).any():
        raise DataError(f"the data of {s.name!r} end with {int((frame.segment == frame.segment[-1]).sum())} "
                        f"usable rows after the last gap, fewer than the lookback of {L} the model needs; "
                        "give a longer recent history")
    return inputs.take(np.arange(tail.start, tail.stop)[None])[0]  # (1, L) rows -> (1, L, F) -> (L, F)


def future_index(last: pd.Timestamp, horizon: int, kind: str, freq: pd.Timedelta | None,
                 exchange: str, index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The H timestamps after `last`: trading sessions for prices, the sampling grid for sensors."""
    if kind != "price":
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
