"""`predict`: a finished run forecasts the H steps after the last observation of fresh data,
for its one series or for every series of a many-series run.

The run folder gives everything: config.yaml (where the data came from), model.json (the
model card: network, inputs, each series' column transforms, scalers and interval widths, all
fitted at training time and never refitted or re-derived here) and checkpoints/best.ckpt
(weights, loaded without running code).

Here: the weights and the network call. Everything around the call (the fresh data, the input
windows, the table of future timestamps and interval bounds) is `forecaster.runs.future`,
shared with the torch-free `forecaster.export.runtime.OnnxForecaster`.

Latency: the network is built with `build_network` and called through the output contract
`forecaster.nets.build.distribution`, without the LightningModule that trained it, so a
forecast never imports Lightning (about 2 s of process start on 2 cores); plotly loads only when
`write_forecast` writes the HTML page (see BENCHMARKS.md "Latency").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from forecaster._io import atomic_write_text, write_csv
from forecaster.config import FitConfig, load_yaml, make_config
from forecaster.errors import ConfigError
from forecaster.nets.build import build_network, distribution
from forecaster.runs.card import ModelCard
from forecaster.runs.folder import load_checkpoint
from forecaster.runs.future import Future, assemble, network_inputs, new_data

PREFIX = "network."  # checkpoint keys: the trained ForecastModule's `network` attribute

__all__ = ["Forecast", "LoadedRun", "forecast", "load_run", "write_forecast"]


@dataclass
class LoadedRun:
    run_dir: Path
    config: FitConfig
    card: ModelCard
    network: nn.Module  # in eval mode, with the run's best weights


@dataclass
class Forecast(Future):  # table, history and cutoff, and the run that made them
    run: LoadedRun


def load_run(run: str | Path) -> LoadedRun:
    """A finished run's settings, model card and best weights."""
    run_dir = Path(run)
    if not (run_dir / "config.yaml").is_file() or not (run_dir / "model.json").is_file():
        raise ConfigError(f"{run_dir} is not a finished run folder (no config.yaml or model.json); "
                          "give the --out folder of a `forecaster fit`")
    card = ModelCard.load(run_dir)
    if not card.finished:
        raise ConfigError(f"{run_dir} did not finish training; resume it with "
                          f"`forecaster fit --resume {run_dir}` first")
    cfg = make_config(load_yaml(run_dir / "config.yaml"), source=str(run_dir / "config.yaml"))
    network = build_network(card.network, **card.network_kwargs)
    state = load_checkpoint(run_dir / "checkpoints" / "best.ckpt")
    try:
        weights = state["state_dict"]
        if not all(k.startswith(PREFIX) for k in weights):
            raise KeyError(next(k for k in weights if not k.startswith(PREFIX)))
        network.load_state_dict({k[len(PREFIX):]: v for k, v in weights.items()})  # strict
    except (KeyError, RuntimeError, TypeError, AttributeError):
        raise ConfigError(f"{run_dir}/checkpoints/best.ckpt does not match its model.json; "
                          "fit the model again") from None
    return LoadedRun(run_dir, cfg, card, network.eval())


def forecast(run: str | Path, csv: str | None = None, time_col: str | None = None,
             offline: bool = False, future: str | Path | None = None) -> Forecast:
    """Forecast the next H steps after the last row of the run's data (refreshed) or of `csv`
    (for a many-series run: a folder or a long-format file holding every series). A model
    with future features reads their values over those H steps from the `future` file (see
    `forecaster.runs.future.read_future`)."""
    loaded = load_run(run)
    card, cfg = loaded.card, loaded.config
    inputs = network_inputs(card, cfg, lambda: new_data(cfg, card, csv, time_col, offline), future,
                            str(loaded.run_dir))  # x (S, L, F), future (S, H, K) or None
    with torch.inference_mode():
        ahead = None if inputs.future is None else torch.from_numpy(inputs.future)
        mean, _ = distribution(loaded.network, torch.from_numpy(inputs.x), future=ahead)  # -> (S, H, C)
    result = assemble(card, inputs, mean.numpy())
    return Forecast(result.table, result.history, result.cutoff, loaded)


def write_forecast(fc: Forecast, out: str | Path | None = None) -> Path:
    """forecast.csv and forecast.html into `out` (default: the run folder); returns the folder."""
    from forecaster.report.forecast import forecast_page  # plotly: only when a page is written

    folder = Path(out) if out else fc.run.run_dir
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / "forecast.csv", fc.table)
    title = f"{fc.run.run_dir.name}: forecast after {fc.cutoff}"
    atomic_write_text(folder / "forecast.html", forecast_page(title, fc.history, fc.table, fc.run.card.many))
    return folder
