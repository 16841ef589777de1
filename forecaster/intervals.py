"""Prediction intervals and their calibration. numpy only.

Split-conformal intervals around any point forecaster: on the validation windows (never the
test split), the nonconformity score of each forecast is its absolute error, per horizon step
and target; the interval at level a is the point forecast plus or minus the
ceil((n + 1) a)-th smallest score (finite-sample valid when errors are exchangeable).
For prices the score is scale-free, |log(actual / forecast)|, and the interval multiplies the
forecast by exp(-q) and exp(q), so it stays proportionate when prices leave their range.

A Gaussian likelihood head (`--loss gaussian`) gives model-based intervals instead:
mean plus or minus z(a) standard deviations, mapped to original units.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

LEVELS = (0.8, 0.95)  # reported in metrics.json and drawn in reports
CALIBRATION_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)  # the calibration plot


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
    return np.sort(calibration, axis=0)[k - 1]


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
