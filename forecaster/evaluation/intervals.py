"""Prediction intervals and their calibration. numpy only, no torch.

Split-conformal intervals around any point forecaster: on the validation windows (never the
test split), the nonconformity score of each forecast is its absolute error, per horizon step
and target; the interval at level a is the point forecast plus or minus the
ceil((n + 1) a)-th smallest score (finite-sample valid when errors are exchangeable).
For prices the score is scale-free, |log(actual / forecast)|, and the interval multiplies the
forecast by exp(-q) and exp(q), so it stays proportionate when prices leave their range.

A Gaussian likelihood head (`--loss gaussian`) gives model-based intervals instead:
mean plus or minus z(a) standard deviations, mapped to original units.

Probabilistic scores beside the coverage: the pinball loss at each interval quantile and a
CRPS approximated from those quantiles (`quantile_scores`), for both kinds of intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from forecaster.data.prepare import Prepared, to_levels
from forecaster.evaluation.metrics import observed_targets

LEVELS = (0.8, 0.95)  # reported in metrics.json and drawn in reports
CALIBRATION_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)  # the calibration plot


@dataclass(frozen=True)
class Conformal:
    """Calibrated interval widths of one series, saved with the model: per level in LEVELS,
    the (H, C) score quantiles, on the `scale` of `score_scale`."""

    scale: str
    quantiles: dict[float, np.ndarray]  # level -> (H, C)

    def bounds(self, point: np.ndarray) -> dict[str, np.ndarray]:
        """(N, H, C) point forecasts -> lower_80, upper_80, lower_95, upper_95 (N, H, C)."""
        out = {}
        for lvl in LEVELS:
            lo, hi = conformal_interval(point, self.quantiles[lvl], self.scale)
            out[f"lower_{round(lvl * 100)}"], out[f"upper_{round(lvl * 100)}"] = lo, hi
        return out

    def to_dict(self) -> dict:
        return {"scale": self.scale, "quantiles": {str(k): v.tolist() for k, v in self.quantiles.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "Conformal":
        return cls(d["scale"], {float(k): np.asarray(v, dtype=np.float64) for k, v in d["quantiles"].items()})


def score_scale(transform: str) -> str:
    """'log' for prices (scale-free), 'abs' otherwise."""
    return "log" if transform == "log_return" else "abs"


def scores(actual: np.ndarray, forecast: np.ndarray, scale: str) -> np.ndarray:
    """(N, H, C) nonconformity scores."""
    if scale == "log":
        return np.abs(np.log(actual / forecast))
    return np.abs(actual - forecast)


def conformal_quantile(calibration: np.ndarray, level: float) -> np.ndarray:
    """(N, H, C) calibration scores -> (H, C) score quantile at `level`, finite-sample corrected."""
    n = calibration.shape[0]
    k = math.ceil((n + 1) * level)
    if k > n:
        return np.full(calibration.shape[1:], np.inf)
    # The k-th smallest score per (step, target), copied out: a view would keep the whole
    # (N, H, C) partitioned array alive for as long as the quantile (a model card holds it).
    return np.partition(calibration, k - 1, axis=0)[k - 1].copy()


def conformal_interval(forecast: np.ndarray, q: np.ndarray, scale: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, C) forecasts and (H, C) quantiles -> lower and upper bounds (N, H, C)."""
    if scale == "log":
        return forecast * np.exp(-q), forecast * np.exp(q)
    return forecast - q, forecast + q


def gaussian_interval(mean: np.ndarray, std: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return mean - z * std, mean + z * std


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray,
             observed: np.ndarray | None = None) -> tuple[float, float]:
    """Share of actual values inside [lower, upper], and the mean width."""
    inside = (actual >= lower) & (actual <= upper)
    if observed is None:
        observed = np.ones_like(inside)
    return float(inside[observed].mean()), float((upper - lower)[observed].mean())


def gaussian_bounds(p: Prepared, split: str, mean: np.ndarray, std: np.ndarray,
                    level: float, shrink: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Model-space Gaussian (N, H, C) -> interval bounds in original units, around the mean
    shrunk by `shrink` (forecaster.evaluation.shrink); the width is the network's own."""
    anchor = p.anchors(split)
    if p.transform == "log_return":  # returns add up: std of the cumulative return (independent steps)
        cum_std = np.sqrt(np.cumsum((std * p.target_scaler.std) ** 2, axis=1))
        centre = np.log(to_levels(mean, anchor, p.transform, p.target_scaler, shrink))
        lo, hi = gaussian_interval(centre, cum_std, level)
        return np.exp(lo), np.exp(hi)
    lo, hi = gaussian_interval(mean, std, level)
    shift = (to_levels(mean, anchor, p.transform, p.target_scaler, shrink)
             - to_levels(mean, anchor, p.transform, p.target_scaler)) if shrink != 1.0 else 0.0
    return (to_levels(lo, anchor, p.transform, p.target_scaler) + shift,
            to_levels(hi, anchor, p.transform, p.target_scaler) + shift)


def pinball(actual: np.ndarray, quantile: np.ndarray, tau: float, observed: np.ndarray) -> float:
    """Mean pinball (quantile) loss of forecasts of the `tau` quantile, over observed targets."""
    diff = (actual - quantile)[observed]
    return float(np.mean(np.maximum(tau * diff, (tau - 1) * diff)))


def quantile_scores(actual: np.ndarray, point: np.ndarray, bounds: dict[str, np.ndarray],
                    observed: np.ndarray) -> dict:
    """Pinball loss at the interval quantiles (2.5, 10, 90, 97.5%, and the point forecast as
    the median) and CRPS approximated from them: CRPS = 2 * integral over tau of the pinball
    loss, each quantile standing for the levels nearest it."""
    taus = {0.025: bounds["lower_95"], 0.1: bounds["lower_80"], 0.5: point, 0.9: bounds["upper_80"],
            0.975: bounds["upper_95"]}
    losses = {tau: pinball(actual, q, tau, observed) for tau, q in taus.items()}
    grid = np.array(list(taus))
    edges = np.r_[0.0, (grid[1:] + grid[:-1]) / 2, 1.0]  # each tau covers the levels nearest it
    crps = 2 * float(np.dot(np.diff(edges), list(losses.values())))
    return {"pinball": {str(t): v for t, v in losses.items()}, "crps": crps}


def interval_metrics(p: Prepared, val_pred: np.ndarray, test_pred: np.ndarray,
                     test_mean: np.ndarray | None = None, test_std: np.ndarray | None = None,
                     shrink: float = 1.0) -> tuple[dict, dict[str, np.ndarray], Conformal]:
    """Conformal (and Gaussian) intervals on the test split, calibrated on validation only;
    the forecasts (and the Gaussian's mean) are those shrunk by `shrink`.

    Returns the metrics.json block, the 80% and 95% bounds by column name, and the calibrated
    widths saved with the model.
    """
    scale = score_scale(p.transform)
    calibration = scores(p.actuals("val"), val_pred, scale)
    quantiles = {lvl: conformal_quantile(calibration, lvl) for lvl in CALIBRATION_LEVELS}
    actual = p.actuals("test")
    observed = observed_targets(p, "test")
    block: dict = {"method": "split-conformal per horizon step, calibrated on the validation windows",
                   "scale": scale, "calibration_windows": int(len(calibration)), "levels": {},
                   "calibration": []}
    conformal = Conformal(scale, {lvl: quantiles[lvl] for lvl in LEVELS})
    for lvl in CALIBRATION_LEVELS:
        lo, hi = conformal_interval(test_pred, quantiles[lvl], scale)
        cov, width = coverage(actual, lo, hi, observed)
        row = {"nominal": lvl, "conformal": cov}
        if test_std is not None:
            glo, ghi = gaussian_bounds(p, "test", test_mean, test_std, lvl, shrink)
            row["gaussian"], gwidth = coverage(actual, glo, ghi, observed)
            if lvl in LEVELS:
                block.setdefault("gaussian", {})[str(lvl)] = {"coverage": row["gaussian"], "mean_width": gwidth}
        block["calibration"].append(row)
        if lvl in LEVELS:
            block["levels"][str(lvl)] = {"coverage": cov, "mean_width": width}
    bounds = conformal.bounds(test_pred)
    block["scores"] = {"conformal": quantile_scores(actual, test_pred, bounds, observed)}
    if test_std is not None:
        gauss = {}
        for lvl in LEVELS:
            gauss[f"lower_{round(lvl * 100)}"], gauss[f"upper_{round(lvl * 100)}"] = gaussian_bounds(
                p, "test", test_mean, test_std, lvl, shrink)
        block["scores"]["gaussian"] = quantile_scores(actual, test_pred, gauss, observed)
    return block, bounds, conformal
