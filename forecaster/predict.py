"""`predict`: a finished run forecasts the H steps after the last observation of fresh data.

The run folder gives everything: config.yaml (where the data came from), model.json (network,
inputs, transform, scalers and conformal quantiles, all fitted at training time and never
refitted here) and checkpoints/best.ckpt (weights, loaded without running code).

Future timestamps: for prices, the exchange's next trading sessions from the maintained
`exchange_calendars` package (holidays skipped); for sensor logs, the last timestamp plus
multiples of the sampling step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from forecaster._io import atomic_write, atomic_write_text
from forecaster.config import FitConfig, load_yaml, make_config
from forecaster.errors import ConfigError, DataError
from forecaster.frame import ticks
from forecaster.intervals import LEVELS, conformal_interval
from forecaster.module import ForecastModule
from forecaster.nets import build_network
from forecaster.prepare import Scaler, model_inputs, to_levels
from forecaster.report import forecast_page
from forecaster.run import CARD_FORMAT, load_checkpoint, load_data


@dataclass
class LoadedRun:
    run_dir: Path
    config: FitConfig
    card: dict
    module: ForecastModule


@dataclass
class Forecast:
    table: pd.DataFrame  # indexed by the future timestamps
    history: pd.DataFrame  # recent observed targets
    cutoff: pd.Timestamp
    run: LoadedRun


def load_run(run: str | Path) -> LoadedRun:
    """A finished run's settings, model card and best weights."""
    run_dir = Path(run)
    if not (run_dir / "config.yaml").is_file() or not (run_dir / "model.json").is_file():
        raise ConfigError(f"{run_dir} is not a finished run folder (no config.yaml or model.json); "
                          "give the --out folder of a `forecaster fit`")
    try:
        card = json.loads((run_dir / "model.json").read_text(encoding="utf-8"))
    except ValueError:
        raise ConfigError(f"{run_dir / 'model.json'} is corrupt; fit the model again") from None
    if card.get("format") != CARD_FORMAT:
        raise ConfigError(f"{run_dir} was written by forecaster {card.get('forecaster_version', '?')} "
                          "in an incompatible format; fit the model again with this version")
    if "series" in card:
        raise ConfigError(f"{run_dir} holds one model of several series; forecasting from it is not "
                          "supported yet: fit one series (one --ticker, --dataset or --csv file) to "
                          "use predict")
    if not card.get("conformal"):
        raise ConfigError(f"{run_dir} did not finish training; resume it with "
                          f"`forecaster fit --resume {run_dir}` first")
    cfg = make_config(load_yaml(run_dir / "config.yaml"), source=str(run_dir / "config.yaml"))
    network = build_network(card["network"], **card["network_kwargs"])
    module = ForecastModule(network, loss=card.get("loss", "mse"))
    state = load_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    try:
        module.load_state_dict(state["state_dict"])
    except (KeyError, RuntimeError):
        raise ConfigError(f"{run_dir}/checkpoints/best.ckpt does not match its model.json; "
                          "fit the model again") from None
    return LoadedRun(run_dir, cfg, card, module.eval())


def forecast(run: str | Path, csv: str | None = None, time_col: str | None = None,
             offline: bool = False) -> Forecast:
    """Forecast the next H steps after the last row of the run's data (refreshed) or of `csv`."""
    loaded = load_run(run)
    cfg, card = loaded.config, loaded.card
    raw_inputs = [n for n in card["inputs"] if not n.endswith(("_sin", "_cos"))]
    targets = card["targets"]
    features = [n for n in raw_inputs if n not in targets]
    if csv:
        data_cfg = replace(cfg, csv=csv, ticker=None, dataset=None, time_col=time_col or cfg.time_col,
                           target=targets, features=features or ["none"], kind=card["kind"])
    else:
        data_cfg = replace(cfg, offline=offline or cfg.offline, target=targets,
                           features=features or ["none"])
    frame = load_data(data_cfg)
    L, H = card["lookback"], card["horizon"]
    scaler = Scaler(np.array(card["input_scaler"]["mean"]), np.array(card["input_scaler"]["std"]))
    inputs, names, _, blocked = model_inputs(frame, card["transform"], card["calendar"], scaler)
    if names != card["inputs"]:
        raise DataError(f"the new data give inputs {names}, the model was trained on {card['inputs']}; "
                        "use data with the same columns and sampling")
    tail = slice(len(inputs) - L, len(inputs))
    seg = frame.segment[tail]
    if len(inputs) < L or blocked[tail].any() or (seg != seg[-1]).any():
        raise DataError(f"the data end with {int((frame.segment == frame.segment[-1]).sum())} usable rows "
                        f"after the last gap, fewer than the lookback of {L} the model needs; "
                        "give a longer recent history")
    x = torch.from_numpy(inputs[tail])[None]  # (L, F) -> (1, L, F)
    with torch.inference_mode():
        mean, _ = loaded.module.distribution(x)
    levels = frame.data[targets].to_numpy(dtype="float64")
    target_scaler = Scaler(np.array(card["target_scaler"]["mean"]), np.array(card["target_scaler"]["std"]))
    point = to_levels(mean.numpy().astype("float64"), levels[-1:], card["transform"], target_scaler)  # (1, H, C)

    cutoff = frame.data.index[-1]
    stamps = future_index(cutoff, H, card["kind"], frame.freq, cfg.exchange, frame.data.index)
    table = {}
    for c, name in enumerate(targets):
        cols = {"forecast": point[0, :, c]}
        for lvl in LEVELS:
            q = np.asarray(card["conformal"]["quantiles"][str(lvl)])  # (H, C)
            lo, hi = conformal_interval(point, q, card["conformal"]["scale"])
            cols[f"lower_{round(lvl * 100)}"] = lo[0, :, c]
            cols[f"upper_{round(lvl * 100)}"] = hi[0, :, c]
        table[name] = pd.DataFrame(cols, index=stamps)
    out = pd.concat(table, names=["target", "timestamp"]).reset_index("target")
    history = frame.data[targets].iloc[-3 * L:]
    return Forecast(out, history, cutoff, loaded)


def future_index(last: pd.Timestamp, horizon: int, kind: str, freq: pd.Timedelta | None,
                 exchange: str, index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The H timestamps after `last`: trading sessions for prices, the sampling grid for sensors."""
    if kind != "price":
        return pd.date_range(last + freq, periods=horizon, freq=freq, name="timestamp")
    import exchange_calendars as xc

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
    atomic_write_text(folder / "forecast.html", forecast_page(title, fc.history, fc.table))
    return folder
