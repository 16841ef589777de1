"""Metrics in original units, of the model and the naive baselines. numpy and pandas only, no torch.

Metrics (overall and per horizon step, for the model and every baseline):
- MAE, RMSE, sMAPE (in %, 0..200) and MASE: MAE divided by the in-sample MAE of the one-step
  naive forecast on the training rows. MASE < 1 beats a one-step naive forecast made with
  hindsight; compare the model's MASE with the naive baseline's MASE at the same horizon.
- `standardized` MSE and MAE of the model (the long-horizon benchmarks' convention, e.g. ETTh1):
  each target standardized with the mean and population standard deviation of its levels on
  the training rows, whatever the transform the network saw (`standardized_errors`).
The baselines are those of `forecaster.evaluation.baselines`. `significance` holds the
Diebold-Mariano test of the model against naive and seasonal naive
(`forecaster.evaluation.significance`); the verdict says whether the difference is significant.
Filled (not observed) target values are left out of every metric.
"""

from __future__ import annotations

import numpy as np

from forecaster.data.frame import step_text
from forecaster.data.prepare import Prepared
from forecaster.evaluation.baselines import baseline_forecasts
from forecaster.evaluation.significance import diebold_mariano, shared_steps, window_losses
from forecaster.evaluation.tables import verdict

METRICS = ("MAE", "RMSE", "sMAPE", "MASE")


def naive_scale(p: Prepared) -> np.ndarray:
    """(C,) in-sample MAE of the one-step naive forecast over the training rows."""
    end = p.bounds["train"][1]
    y, seg = p.levels[:end], p.segment[:end]
    same = seg[1:] == seg[:-1]
    scale = np.abs(np.diff(y, axis=0))[same].mean(axis=0)
    return np.where(scale > 0, scale, np.nan)


def observed_targets(p: Prepared, split: str) -> np.ndarray:
    """(N, H, C) True where a target of `split`'s windows was observed, not filled."""
    if p.filled.shape[1]:
        return ~p.filled[p.target_rows(split)]
    return np.ones((len(p.starts[split]), p.horizon, len(p.target_names)), dtype=bool)


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


def standardized_errors(train_levels: np.ndarray, actual: np.ndarray, forecast: np.ndarray,
                        observed: np.ndarray | None = None) -> dict:
    """MSE and MAE of (N, H, C) forecasts after standardizing each target with the mean and
    standard deviation (ddof=0, as sklearn's StandardScaler) of its (R, C) `train_levels`:
    per target over its observed windows and steps, then averaged over targets. A target
    constant on the training rows has no scale: then the result is NaN (null in metrics.json)."""
    std = np.asarray(train_levels, dtype=np.float64).std(axis=0)  # (C,), ddof=0
    # The mean cancels in forecast - actual: the errors are divided by the scale alone.
    err = (np.asarray(forecast, dtype=np.float64) - actual) / np.where(std > 0, std, 1.0)  # (N, H, C)
    used = np.ones(err.shape, dtype=bool) if observed is None else observed.astype(bool)
    count = used.sum(axis=(0, 1))  # (C,)
    ok = (count > 0) & (std > 0)
    mse = np.where(ok, np.where(used, err ** 2, 0.0).sum(axis=(0, 1)) / np.maximum(count, 1), np.nan)  # (C,)
    mae = np.where(ok, np.where(used, np.abs(err), 0.0).sum(axis=(0, 1)) / np.maximum(count, 1), np.nan)  # (C,)
    return {"MSE": float(np.mean(mse)), "MAE": float(np.mean(mae))}


def evaluate(p: Prepared, pred_levels: np.ndarray, model_name: str, split: str = "test",
             baselines: dict[str, np.ndarray] | None = None) -> dict:
    """The metrics.json body: model, baselines, the verdict against naive, and the split.
    `baselines` are `baseline_forecasts(p, split)` where the caller has them already."""
    actual = p.actuals(split)
    observed = observed_targets(p, split)
    scale = naive_scale(p)
    model = {"name": model_name, **scores(actual, pred_levels, observed, scale)}
    train_levels = p.levels[slice(*p.bounds["train"])]  # (R, C)
    standardized = standardized_errors(train_levels, actual, pred_levels, observed)
    forecasts = baselines if baselines is not None else baseline_forecasts(p, split)
    baselines = {name: {"name": name, **scores(actual, f, observed, scale)} for name, f in forecasts.items()}
    ratio = model["MAE"] / baselines["naive"]["MAE"]
    lags = shared_steps(p.horizon, p.stride)
    model_loss = window_losses(actual, pred_levels, observed)
    significance = {name: diebold_mariano(model_loss, window_losses(actual, f, observed), lags)
                    for name, f in forecasts.items() if name != "drift"}
    return {"model": model, "baselines": baselines, "mae_ratio_to_naive": float(ratio),
            "significance": {k: v.to_dict() for k, v in significance.items()},
            "verdict": verdict(model_name, ratio, test=significance["naive"]),
            "standardized": standardized, "split": split_info(p, split, len(actual))}


def validation_errors(p: Prepared, val_pred: np.ndarray) -> dict:
    """The metrics.json `validation` block: MAE of the model's (N, H, C) validation forecasts
    (original units) and of naive and seasonal naive on the same windows. What development
    decisions are checked on (the validation split also stopped training: a little optimistic);
    never the test split."""
    actual, observed, scale = p.actuals("val"), observed_targets(p, "val"), naive_scale(p)
    forecasts = {"model": val_pred, **baseline_forecasts(p, "val")}
    return {name: scores(actual, f, observed, scale)["MAE"] for name, f in forecasts.items() if name != "drift"}


def split_info(p: Prepared, split: str, n_windows: int) -> dict:
    def stamp(row: int) -> str:
        t = p.index[min(row, len(p.index) - 1)]
        return t.date().isoformat() if t == t.normalize() and p.freq is None else t.isoformat()
    spans = {k: {"start": stamp(a), "end": stamp(b - 1), "rows": b - a,
                 "windows": int(len(p.starts[k]))} for k, (a, b) in p.bounds.items()}
    return {"evaluated": split, "windows": n_windows, "lookback": p.lookback,
            "horizon": p.horizon, "season": p.season, "transform": p.transform,
            "anchor": p.anchor.kind,
            "freq": step_text(p.freq),  # isoformat of a Timedelta, "MS" for month starts
            "targets": p.target_names, **spans}
