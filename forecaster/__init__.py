"""forecaster: recurrent-network forecasts of prices and sensor logs, judged against naive baselines.

The public API (the CLI is a thin layer over it):

    from forecaster import FitConfig, fit, forecast
    result = fit(FitConfig(dataset="aapl", model="gru", max_epochs=10, out="runs/aapl-gru"))
    print(result.verdict, result.report)
    result.figures()["forecast:Close"]          # any report figure, as a plotly Figure
    forecast("runs/aapl-gru").table             # the next H steps, on real future timestamps

Data: load_dataset, fetch_prices, load_file, validate_frame, WindowDataModule (and
forecaster.data.prepare.prepare, forecaster.evaluation.metrics.evaluate).
Models: build_network, NETWORKS. Runs: fit, compare, backtest, update, tune (the tune extra),
forecast, load_run, list_runs.
Serving: export_run, OnnxForecaster (no torch).

Names are imported lazily, so `import forecaster` stays cheap until torch is needed. No exported
function shares its name with a submodule (an imported submodule would shadow it).
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "FitConfig": "forecaster.config", "make_config": "forecaster.config",
    "ForecasterError": "forecaster.errors",
    "fetch_prices": "forecaster.data.sources", "list_datasets": "forecaster.data.sources",
    "load_dataset": "forecaster.data.sources", "load_file": "forecaster.data.sources",
    "validate_frame": "forecaster.data.frame",
    "load_data": "forecaster.data.select", "load_series": "forecaster.data.select",
    "WindowDataModule": "forecaster.data.windows",
    "build_network": "forecaster.nets.build", "NETWORKS": "forecaster.nets",
    "fit": "forecaster.runs.fit", "compare": "forecaster.runs.compare",
    "backtest": "forecaster.runs.backtest", "update": "forecaster.runs.update",
    "tune": "forecaster.runs.tune",
    "forecast": "forecaster.runs.predict", "load_run": "forecaster.runs.predict",
    "write_forecast": "forecaster.runs.predict",
    "export_run": "forecaster.export.onnx", "OnnxForecaster": "forecaster.export.runtime",
    "RunResult": "forecaster.runs.results", "FitResult": "forecaster.runs.results",
    "CompareResult": "forecaster.runs.results", "BacktestResult": "forecaster.runs.results",
    "ModelCard": "forecaster.runs.card",
    "list_runs": "forecaster.runs.index",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'forecaster' has no attribute {name!r}")
