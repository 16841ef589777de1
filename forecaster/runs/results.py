"""What every command returns: a `RunResult` (run folder, config, kind, metrics, forecasts,
report path, `figures()`), one subclass per command.

`kind` is "fit" (one series), "panel" (one model on several series), "compare" or
"backtest"; metrics.json carries the same `kind` and its `schema` version, so nothing reading
a run guesses its kind from which keys it has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from forecaster.config import FitConfig
from forecaster.data.panel import Panel
from forecaster.data.prepare import Prepared
from forecaster.evaluation.tables import metric_rows
from forecaster.report.backtest import backtest_figures
from forecaster.report.compare import compare_figures
from forecaster.report.fit import figures as fit_figures
from forecaster.report.panel import panel_figures
from forecaster.runs.folder import read_forecasts
from forecaster.runs.pipeline import TrainedNetwork
from forecaster.training.module import ForecastModule
from forecaster.training.trainer import TrainResult

METRICS_SCHEMA = 2  # metrics.json: bump when a key changes meaning or moves
KINDS = ("fit", "panel", "compare", "backtest")


@dataclass
class RunResult:
    run_dir: Path
    config: FitConfig
    kind: str  # one of KINDS
    metrics: dict  # what metrics.json holds
    held_forecasts: pd.DataFrame | None  # see `forecasts`; None: not held (a many-series fit)
    unit: str  # axis label of the targets

    @property
    def forecasts(self) -> pd.DataFrame:
        """Every test forecast, indexed by cutoff and real timestamp (and series)."""
        return self.held_forecasts

    @property
    def report(self) -> Path:
        return self.run_dir / "report.html"

    @property
    def verdict(self) -> str:
        """The run's one-sentence verdict against the naive last value."""
        return self.metrics["verdict"]

    def figures(self) -> dict[str, go.Figure]:
        """Every report figure as a plotly Figure, by name (for notebooks)."""
        raise NotImplementedError


@dataclass
class FitResult(RunResult):
    """`fit` of one series (kind "fit") or of several (kind "panel")."""

    panel: Panel = field(repr=False, default=None)
    module: ForecastModule = field(repr=False, default=None)
    training: TrainResult = field(repr=False, default=None)

    @property
    def forecasts(self) -> pd.DataFrame:
        """Every test forecast, indexed by cutoff and real timestamp (and series). A many-series
        fit does not hold them (10,000 series' are millions of rows): they are read from the
        run's forecasts.csv on first use, numbers as float64."""
        if self.held_forecasts is None:
            self.held_forecasts = read_forecasts(self.run_dir / "forecasts.csv", self.prepared.index.tz)
        return self.held_forecasts

    @property
    def prepared(self) -> Prepared:
        """The first (for kind "fit": the only) series, prepared."""
        return self.panel.first

    @property
    def series(self) -> pd.DataFrame:
        """The target columns of the first series in original units, over every row used."""
        return self.prepared.target_frame()

    @property
    def spans(self) -> dict:
        p = self.prepared
        return {k: (p.index[a], p.index[b - 1]) for k, (a, b) in p.bounds.items()}

    @property
    def history(self) -> dict:
        t = self.training
        return {"train_loss": t.train_loss, "val_loss": t.val_loss, "best_epoch": t.best_epoch}

    def figures(self) -> dict[str, go.Figure]:
        if self.kind == "panel":
            return panel_figures(self.metrics, self.forecasts, self.unit)
        return fit_figures(self.series, self.spans, self.forecasts, self.metrics, self.history, self.unit)


@dataclass
class CompareResult(RunResult):
    """`compare`: several networks on identical windows of one series."""

    prepared: Prepared = field(repr=False, default=None)
    networks: dict[str, TrainedNetwork] = field(repr=False, default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per model and baseline: MAE, its difference from naive, RMSE, MASE, ..."""
        m = self.metrics
        return metric_rows(m["models"], m["baselines"], m["baselines"]["naive"]["MAE"])

    def figures(self) -> dict[str, go.Figure]:
        return compare_figures(self.prepared.target_frame(), self.forecasts, self.metrics, self.unit)


@dataclass
class BacktestResult(RunResult):
    """`backtest`: the model retrained (or fine-tuned) fold by fold."""

    series: pd.DataFrame = field(repr=False, default=None)  # targets in original units
    folds: list = field(repr=False, default_factory=list)  # forecaster.runs.backtest.Fold

    def figures(self) -> dict[str, go.Figure]:
        return backtest_figures(self.series, self.forecasts, self.metrics, self.unit)
