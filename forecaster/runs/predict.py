"""`predict`: a finished run forecasts the H steps after the last observation of fresh data,
for its one series or for every series of a many-series run.

The run folder gives everything: config.yaml (where the data came from), model.json (the
model card: network, inputs, each series' column transforms, scalers and interval widths, all
fitted at training time and never refitted or re-derived here) and checkpoints/best.ckpt
(weights, loaded without running code).

Future timestamps: for prices, the exchange's next trading sessions from the maintained
`exchange_calendars` package (holidays skipped); for sensor logs, the last timestamp plus
multiples of the sampling step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import exchange_calendars as xc
import numpy as np
import pandas as pd
import torch

from forecaster._io import atomic_write, atomic_write_text
from forecaster.config import FitConfig, load_yaml, make_config
from forecaster.data.frame import ValidFrame, ticks
from forecaster.data.prepare import anchor_levels, model_inputs, to_levels
from forecaster.data.select import load_series
from forecaster.data.windows import relative_to_cutoff
from forecaster.errors import ConfigError, DataError
from forecaster.nets.build import build_network
from forecaster.report.forecast import forecast_page
from forecaster.runs.card import ModelCard, SeriesCard
from forecaster.runs.folder import load_checkpoint
from forecaster.training.module import ForecastModule


@dataclass
class LoadedRun:
    run_dir: Path
    config: FitConfig
    card: ModelCard
    module: ForecastModule


@dataclass
class Forecast:
    table: pd.DataFrame  # indexed by the future timestamps; a `series` column for several series
    history: dict[str, pd.DataFrame]  # recent observed targets, by series
    cutoff: pd.Timestamp  # the last observation (the latest over series)
    run: LoadedRun


def load_run(run: str | Path) -> LoadedRun:
    """A finished run's settings, model card and best weights."""
    run_dir = Path(run)
    if not (run_dir / "config.yaml").is_file() or not (run_dir / "model.json").is_file():
        raise ConfigError(f"{run_dir} is not a finished run folder (no config.yaml or model.json); "
                          "give the --out folder of a `forecaster fit`")
    card = ModelCard.load(run_dir)
    if not card.finished:
        raise ConfigError(f"{run_dir} did not finish training; resume it with "
                          f"`forecaster fit --resume {run_dir}` first")
    cfg = make_config(load_yaml(run_dir / "config.yaml"), source=str(run_dir / "config.yaml"))
    module = ForecastModule(build_network(card.network, **card.network_kwargs), loss=card.loss)
    state = load_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    try:
        module.load_state_dict(state["state_dict"])
    except (KeyError, RuntimeError):
        raise ConfigError(f"{run_dir}/checkpoints/best.ckpt does not match its model.json; "
                          "fit the model again") from None
    return LoadedRun(run_dir, cfg, card, module.eval())


def forecast(run: str | Path, csv: str | None = None, time_col: str | None = None,
             offline: bool = False) -> Forecast:
    """Forecast the next H steps after the last row of the run's data (refreshed) or of `csv`
    (for a many-series run: a folder or a long-format file holding every series)."""
    loaded = load_run(run)
    cfg, card = loaded.config, loaded.card
    features = card.features or ["none"]
    if csv:
        data_cfg = replace(cfg, csv=csv, ticker=None, dataset=None, time_col=time_col or cfg.time_col,
                           target=card.targets, features=features, kind=card.kind)
    else:
        data_cfg = replace(cfg, offline=offline or cfg.offline, target=card.targets, features=features)
    frames = matched_series(card, load_series(data_cfg))
    x = torch.from_numpy(np.stack([last_window(card, s, frames[s.name]) for s in card.series]))  # S x (L, F) -> (S, L, F)
    if card.relative_inputs:
        x = relative_to_cutoff(x, card.relative_inputs)
    with torch.inference_mode():
        mean, _ = loaded.module.distribution(x)  # (S, L, F) -> (S, H, C)
    mean = mean.numpy().astype("float64")
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
        stamps = future_index(frame.data.index[-1], card.horizon, card.kind, frame.freq, cfg.exchange,
                              frame.data.index)
        per_target = {name: pd.DataFrame({"forecast": point[0, :, c],
                                          **{k: v[0, :, c] for k, v in bounds.items()}}, index=stamps)
                      for c, name in enumerate(card.targets)}
        table = pd.concat(per_target, names=["target", "timestamp"]).reset_index("target")
        tables.append(table.assign(series=s.name)[["series", *table.columns]] if card.many else table)
        history[s.name] = frame.data[card.targets].iloc[-3 * card.lookback:]
    cutoff = max(frames[s.name].data.index[-1] for s in card.series)
    return Forecast(pd.concat(tables), history, cutoff, loaded)


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
    return inputs[tail]


def future_index(last: pd.Timestamp, horizon: int, kind: str, freq: pd.Timedelta | None,
                 exchange: str, index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The H timestamps after `last`: trading sessions for prices, the sampling grid for sensors."""
    if kind != "price":
        return pd.date_range(last + freq, periods=horizon, freq=freq, name="timestamp")
    step = ticks(index, np.median(np.diff(index.asi8[-50:]))) if len(index) > 2 else pd.Timedelta(days=1)
    try:
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


def write_forecast(fc: Forecast, out: str | Path | None = None) -> Path:
    """forecast.csv and forecast.html into `out` (default: the run folder); returns the folder."""
    folder = Path(out) if out else fc.run.run_dir
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "forecast.csv", lambda tmp: fc.table.to_csv(tmp))
    title = f"{fc.run.run_dir.name}: forecast after {fc.cutoff}"
    atomic_write_text(folder / "forecast.html", forecast_page(title, fc.history, fc.table, fc.run.card.many))
    return folder
