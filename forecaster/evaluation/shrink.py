"""Shrinking a price forecast toward the naive last value, by a factor chosen on validation.

Daily prices are close to a random walk: the naive last value is hard to beat, and a network's
forecast returns are mostly noise around a small signal. Forecasting `shrink` times the
network's log return (0 <= shrink <= 1; 0 is the naive last value itself, 1 the network's
forecast whole) trades that noise for bias, the standard remedy for return forecasts. The factor
is the one of `GRID` with the lowest MAE on the validation windows (never the test split), is
saved with the model (the model card's per-series `shrink`) and is applied wherever a forecast
is mapped back to prices (`forecaster.data.prepare.to_levels`): the test evaluation, the
intervals calibrated around it, `predict` and the exported model.

Only price series are shrunk: on most sensor logs the network's validation MAE is a fraction of
its anchor's (README, "How a run works").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.data.prepare import Prepared, to_levels
from forecaster.evaluation.metrics import naive_scale, observed_targets, scores

GRID = tuple(i / 10 for i in range(11))  # 0, 0.1, ..., 1


@dataclass(frozen=True)
class Shrink:
    """The factor chosen for one series and the validation MAE it was chosen on."""

    factor: float
    validation_mae: float  # with the factor
    validation_mae_whole: float  # the network's forecast unshrunk

    def to_dict(self) -> dict:
        return {"factor": self.factor, "chosen_on": "validation", "validation_mae": self.validation_mae,
                "validation_mae_unshrunk": self.validation_mae_whole}

    def note(self) -> str | None:
        """The run's one line on it, where the forecast was shrunk at all."""
        if self.factor == 1.0:
            return None
        what = ("forecasts are the naive last value" if self.factor == 0.0 else
                f"forecast returns are {self.factor:g} of the network's, shrunk toward the naive last value")
        return (f"{what}: chosen on the validation windows (MAE {self.validation_mae:.4g} against "
                f"{self.validation_mae_whole:.4g} for the network's forecast whole)")


WHOLE = Shrink(1.0, float("nan"), float("nan"))  # what a series that is not a price gets


def panel_note(factors: list[float]) -> str | None:
    """The run's one line on the shrink factors of many series, where any was shrunk."""
    shrunk = sum(a < 1.0 for a in factors)
    if not shrunk:
        return None
    return (f"forecasts shrunk toward the naive last value on {shrunk} of {len(factors)} series, "
            "each by a factor chosen on its validation windows (`shrink` in metrics.json)")


def choose_shrink(p: Prepared, val_mean: np.ndarray) -> Shrink:
    """The factor of `GRID` with the lowest validation MAE for the model-space validation
    forecasts `val_mean` (N, H, C) of a price series; ties go to the larger factor. Other series
    keep the network's forecast whole."""
    if p.kind != "price" or not len(val_mean):
        return WHOLE
    actual, observed, scale = p.actuals("val"), observed_targets(p, "val"), naive_scale(p)
    anchor = p.anchors("val")  # (N, C) levels at the cutoffs, once for every factor
    mae = {a: scores(actual, to_levels(val_mean, anchor, p.transform, p.target_scaler, a), observed, scale)["MAE"]
           for a in GRID}
    best = min(reversed(GRID), key=lambda a: mae[a])
    return Shrink(best, mae[best], mae[1.0])
