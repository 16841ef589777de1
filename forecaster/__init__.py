"""forecaster: recurrent-network forecasts of prices and sensor logs, judged against naive baselines.

The public API (the CLI is a thin layer over it):

    from forecaster import FitConfig, fit, forecast
    result = fit(FitConfig(dataset="aapl", model="gru", max_epochs=10, out="runs/aapl-gru"))
    print(result.metrics["verdict"], result.report)
    result.figures()["forecast:Close"]          # any report figure, as a plotly Figure
    forecast("runs/aapl-gru").table             # the next H steps, on real future timestamps

Data: load_dataset, fetch_prices, load_file, validate_frame, WindowDataModule (and
forecaster.prepare.prepare, forecaster.evaluate.evaluate).
Models: build_network, NETWORKS. Runs: fit, compare, backtest, forecast, load_run, list_runs.

Names are imported lazily, so `import forecaster` stays cheap until torch is needed. No exported
function shares its name with a submodule (an imported submodule would shadow it).
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "FitConfig": "forecaster.config", "make_config": "forecaster.config",
    "ForecasterError": "forecaster.errors",
    "FitResult": "forecaster.run", "fit": "forecaster.run", "load_data": "forecaster.run",
    "validate_frame": "forecaster.frame",
    "compare": "forecaster.comparison", "CompareResult": "forecaster.comparison",
    "backtest": "forecaster.backtesting", "BacktestResult": "forecaster.backtesting",
    "forecast": "forecaster.predict", "load_run": "forecaster.predict", "write_forecast": "forecaster.predict",
    "build_network": "forecaster.nets", "NETWORKS": "forecaster.nets",
    "WindowDataModule": "forecaster.windows",
    "list_runs": "forecaster.runs",
    "fetch_prices": "forecaster.sources", "list_datasets": "forecaster.sources",
    "load_dataset": "forecaster.sources", "load_file": "forecaster.sources",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'forecaster' has no attribute {name!r}")
