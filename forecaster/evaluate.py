"""Evaluation in original units against naive baselines. numpy and pandas only, no torch.

Metrics (overall and per horizon step, for the model and every baseline):
- MAE, RMSE, sMAPE (in %, 0..200) and MASE: MAE divided by the in-sample MAE of the one-step
  naive forecast on the training rows. MASE < 1 beats a one-step naive forecast made with
  hindsight; compare the model's MASE with the naive baseline's MASE at the same horizon.
Baselines, each from the data up to the cutoff only:
- naive: the last observed value, held for all H steps.
- seasonal_naive: the value one season earlier (season from the frequency: 24 for hourly
  data, 5 for trading days), repeated.
- drift: the last value plus h times the average change since the start of the series.
Filled (not observed) target values are left out of every metric.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.intervals import (CALIBRATION_LEVELS, LEVELS, conformal_interval, conformal_quantile,
                                  coverage, gaussian_interval, score_scale, scores as nonconformity)
from forecaster.frame import ticks
from forecaster.prepare import Prepared, to_levels

BASELINES = ("naive", "seasonal_naive", "drift")
METRICS = ("MAE", "RMSE", "sMAPE", "MASE")


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
    want = stamps[t][:, None] - back[None, :] * (p.freq // ticks(p.index, 1))  # (N, H) in index ticks
    pos = np.clip(np.searchsorted(stamps, want), 0, len(stamps) - 1)
    found = stamps[pos] == want
    rows = np.where(found, pos, t[:, None])
    return p.levels[rows]


def naive_scale(p: Prepared) -> np.ndarray:
    """(C,) in-sample MAE of the one-step naive forecast over the training rows."""
    end = p.bounds["train"][1]
    y, seg = p.levels[:end], p.segment[:end]
    same = seg[1:] == seg[:-1]
    scale = np.abs(np.diff(y, axis=0))[same].mean(axis=0)
    return np.where(scale > 0, scale, np.nan)


def scores(actual: np.ndarray, forecast: np.ndarray, observed: np.ndarray,
           scale: np.ndarray) -> dict:
    """Metrics of (N, H, C) forecasts: overall values and per-step lists."""
    err = np.where(observed, forecast - actual, np.nan)
    denom = np.abs(actual) + np.abs(forecast)
    ape = np.where(observed & (denom > 0), 2 * np.abs(err) / np.where(denom > 0, denom, 1), np.nan)

    def reduce(axis) -> dict:
        mae = np.nanmean(np.abs(err), axis=axis)  # per target (and per step)
        return {"MAE": mae, "RMSE": np.sqrt(np.nanmean(err ** 2, axis=axis)),
                "sMAPE": 100 * np.nanmean(ape, axis=axis), "MASE": mae / scale}

    overall = reduce((0, 1))  # (C,)
    per_step = reduce(0)  # (H, C)
    out = {k: float(np.mean(v)) for k, v in overall.items()}
    out["per_step"] = {k: [float(x) for x in v.mean(axis=-1)] for k, v in per_step.items()}
    if actual.shape[-1] > 1:
        out["per_target"] = {k: [float(x) for x in v] for k, v in overall.items()}
    return out


def evaluate(p: Prepared, pred_levels: np.ndarray, model_name: str, split: str = "test") -> dict:
    """The metrics.json body: model, baselines, the verdict against naive, and the split."""
    actual = p.actuals(split)
    observed = ~p.filled[p.target_rows(split)] if p.filled.shape[1] else np.ones_like(actual, dtype=bool)
    scale = naive_scale(p)
    model = {"name": model_name, **scores(actual, pred_levels, observed, scale)}
    baselines = {name: {"name": name, **scores(actual, f, observed, scale)}
                 for name, f in baseline_forecasts(p, split).items()}
    ratio = model["MAE"] / baselines["naive"]["MAE"]
    verdict = (f"{model_name} beats the naive last value: MAE {100 * (1 - ratio):.1f}% lower"
               if ratio < 1 else
               f"{model_name} does NOT beat the naive last value: MAE {100 * (ratio - 1):.1f}% higher")
    return {"model": model, "baselines": baselines, "mae_ratio_to_naive": float(ratio),
            "verdict": verdict, "split": split_info(p, split, len(actual))}


def split_info(p: Prepared, split: str, n_windows: int) -> dict:
    def stamp(row: int) -> str:
        t = p.index[min(row, len(p.index) - 1)]
        return t.date().isoformat() if t == t.normalize() and p.freq is None else t.isoformat()
    spans = {k: {"start": stamp(a), "end": stamp(b - 1), "rows": b - a,
                 "windows": int(len(p.starts[k]))} for k, (a, b) in p.bounds.items()}
    return {"evaluated": split, "windows": n_windows, "lookback": p.lookback,
            "horizon": p.horizon, "season": p.season, "transform": p.transform,
            "freq": p.freq.isoformat() if p.freq is not None else None,
            "targets": p.target_names, **spans}


def forecast_frame(p: Prepared, forecasts: dict[str, np.ndarray], split: str = "test") -> pd.DataFrame:
    """Long frame of every window's forecasts, indexed by (cutoff, timestamp).

    `timestamp` is the real time of each forecast value; columns: step, target, actual and one
    column per forecaster (model and baselines).
    """
    n, H, C = p.actuals(split).shape
    cutoff = p.index[np.repeat(p.cutoffs(split), H * C)]  # (N,) -> (N*H*C,)
    stamps = p.index[np.repeat(p.target_rows(split).reshape(-1), C)]  # (N, H) -> (N*H*C,)
    cols = {"step": np.tile(np.repeat(np.arange(1, H + 1), C), n),
            "target": np.tile(p.target_names, n * H),
            "actual": p.actuals(split).reshape(-1)}  # (N, H, C) -> (N*H*C,)
    for name, f in forecasts.items():
        cols[name] = f.reshape(-1)  # (N, H, C) -> (N*H*C,)
    index = pd.MultiIndex.from_arrays([cutoff.rename("cutoff"), stamps.rename("timestamp")])
    return pd.DataFrame(cols, index=index)


def gaussian_bounds(p: Prepared, split: str, mean: np.ndarray, std: np.ndarray,
                    level: float) -> tuple[np.ndarray, np.ndarray]:
    """Model-space Gaussian (N, H, C) -> interval bounds in original units."""
    anchor = p.levels[p.cutoffs(split)]
    if p.transform == "log_return":  # returns add up: std of the cumulative return (independent steps)
        cum_std = np.sqrt(np.cumsum((std * p.target_scaler.std) ** 2, axis=1))
        centre = np.log(to_levels(mean, anchor, p.transform, p.target_scaler))
        lo, hi = gaussian_interval(centre, cum_std, level)
        return np.exp(lo), np.exp(hi)
    lo, hi = gaussian_interval(mean, std, level)
    return (to_levels(lo, anchor, p.transform, p.target_scaler),
            to_levels(hi, anchor, p.transform, p.target_scaler))


def interval_metrics(p: Prepared, val_pred: np.ndarray, test_pred: np.ndarray,
                     test_mean: np.ndarray | None = None, test_std: np.ndarray | None = None
                     ) -> tuple[dict, dict[str, np.ndarray], dict]:
    """Conformal (and Gaussian) intervals on the test split, calibrated on validation only.

    Returns the metrics.json block, the 80% and 95% bounds by column name, and the conformal
    quantiles for model.json.
    """
    scale = score_scale(p.transform)
    calibration = nonconformity(p.actuals("val"), val_pred, scale)
    quantiles = {lvl: conformal_quantile(calibration, lvl) for lvl in CALIBRATION_LEVELS}
    actual = p.actuals("test")
    observed = ~p.filled[p.target_rows("test")] if p.filled.shape[1] else None
    block: dict = {"method": "split-conformal per horizon step, calibrated on the validation windows",
                   "scale": scale, "calibration_windows": int(len(calibration)), "levels": {},
                   "calibration": []}
    bounds: dict[str, np.ndarray] = {}
    for lvl in CALIBRATION_LEVELS:
        lo, hi = conformal_interval(test_pred, quantiles[lvl], scale)
        cov, width = coverage(actual, lo, hi, observed)
        row = {"nominal": lvl, "conformal": cov}
        if test_std is not None:
            glo, ghi = gaussian_bounds(p, "test", test_mean, test_std, lvl)
            row["gaussian"], gwidth = coverage(actual, glo, ghi, observed)
            if lvl in LEVELS:
                block.setdefault("gaussian", {})[str(lvl)] = {"coverage": row["gaussian"], "mean_width": gwidth}
        block["calibration"].append(row)
        if lvl in LEVELS:
            block["levels"][str(lvl)] = {"coverage": cov, "mean_width": width}
            bounds[f"lower_{round(lvl * 100)}"], bounds[f"upper_{round(lvl * 100)}"] = lo, hi
    card = {"scale": scale, "quantiles": {str(lvl): quantiles[lvl].tolist() for lvl in LEVELS}}
    return block, bounds, card
