"""Is a difference from a baseline real? The Diebold-Mariano test. numpy only, no torch.

For two forecasters judged on the same N windows, the loss differential of window t is
d_t = loss_model(t) - loss_baseline(t), here the absolute error averaged over the H steps and
the targets (the loss MAE is made of). Windows one row apart share H - 1 of their targets, so
d_t is autocorrelated up to lag H - 1: its long-run variance sums the autocovariances up to
that lag (Diebold and Mariano, 1995), and the Harvey-Leybourne-Newbold (1997) correction
scales the statistic for small samples and compares it with Student's t on N - 1 degrees of
freedom. Two-sided: a p-value under `ALPHA` says the model is significantly better (mean
d < 0) or worse (mean d > 0); otherwise the difference is not significant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05  # the significance level of every verdict


@dataclass(frozen=True)
class DieboldMariano:
    statistic: float  # HLN-corrected DM statistic; negative: the model's loss is lower
    p_value: float  # two-sided, Student's t with n - 1 degrees of freedom
    n: int  # windows compared
    mean_difference: float  # mean loss differential, model minus baseline

    @property
    def outcome(self) -> str:
        """"better", "worse" or "no difference" at level ALPHA."""
        if self.p_value >= ALPHA or not math.isfinite(self.p_value):
            return "no difference"
        return "better" if self.mean_difference < 0 else "worse"

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "p_value": self.p_value, "windows": self.n,
                "mean_loss_difference": self.mean_difference, "outcome": self.outcome}

    @classmethod
    def from_dict(cls, d: dict) -> "DieboldMariano":
        nan = float("nan")  # metrics.json writes a p-value that could not be computed as null
        return cls(d["statistic"] if d["statistic"] is not None else nan,
                   d["p_value"] if d["p_value"] is not None else nan, d["windows"],
                   d["mean_loss_difference"] if d["mean_loss_difference"] is not None else nan)


def shared_steps(horizon: int, stride: int) -> int:
    """How many steps' targets windows `stride` rows apart can share: ceil(H / stride), the
    lags (0 .. this - 1) their loss differentials are autocorrelated over."""
    return -(-horizon // max(stride, 1))


def window_losses(actual: np.ndarray, forecast: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """(N, H, C) -> (N,) mean absolute error of each window over its observed targets."""
    err = np.where(observed, np.abs(forecast - actual), 0.0)
    count = observed.sum(axis=(1, 2))
    return err.sum(axis=(1, 2)) / np.maximum(count, 1)


def diebold_mariano(loss_model: np.ndarray, loss_baseline: np.ndarray, horizon: int) -> DieboldMariano:
    """The HLN-corrected Diebold-Mariano test on per-window losses in time order; `horizon`
    is the number of steps whose targets overlapping windows share (lags 0..horizon-1)."""
    d = np.asarray(loss_model, dtype=np.float64) - np.asarray(loss_baseline, dtype=np.float64)
    n, h = len(d), max(int(horizon), 1)
    mean = float(d.mean()) if n else float("nan")
    if n < 3:
        return DieboldMariano(float("nan"), float("nan"), n, mean)
    c = d - mean
    gamma = [float(c[k:] @ c[:n - k]) / n for k in range(min(h, n))]  # autocovariances, lags 0..h-1
    var = (gamma[0] + 2 * sum(gamma[1:])) / n
    if var <= 0:  # the lag terms can make the estimate negative in small samples
        var = gamma[0] / n
    if var <= 0:  # identical losses everywhere: no evidence either way
        return DieboldMariano(0.0, 1.0, n, mean)
    correction = math.sqrt(max(n + 1 - 2 * h + h * (h - 1) / n, 1e-12) / n)
    stat = mean / math.sqrt(var) * correction
    return DieboldMariano(stat, 2 * student_t_sf(abs(stat), n - 1), n, mean)


def student_t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom, t >= 0."""
    x = df / (df + t * t)
    return 0.5 * _betainc(df / 2, 0.5, x)


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), by its continued fraction."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _betacf(a: float, b: float, x: float, iterations: int = 300, eps: float = 1e-15) -> float:
    """Lentz's method for the continued fraction of the incomplete beta function."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, iterations + 1):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h
