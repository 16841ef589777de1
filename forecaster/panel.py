"""Many series, one model: `fit` on several tickers, datasets, a folder of files or a
long-format file with a series column.

The same honesty rules as for one series, per series:
- each series is validated on its own (`forecaster.frame`), under its own name;
- all series are split at the same two timestamps (the 70% and 85% points of their pooled
  timestamps by default), so no series is trained on a period another is tested on;
- each series has its own scalers, fitted on its own training rows;
- the series are laid end to end in one array, and no window crosses from one into the next;
- metrics (model and naive baselines, MASE on each series' own training scale) per series,
  and overall: how many series the model beats naive on, the geometric mean of the MAE
  ratios, and the mean MASE of every forecaster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd

from forecaster import __version__
from forecaster._io import atomic_write, atomic_write_text
from forecaster.config import FitConfig, dump_yaml, names_in
from forecaster.errors import DataError
from forecaster.evaluate import baseline_forecasts, evaluate, forecast_frame
from forecaster.frame import ValidFrame, validate_frame
from forecaster.module import ForecastModule
from forecaster.nets import build_network, count_parameters
from forecaster.panel_report import panel_figures, write_panel_report
from forecaster.prepare import SPLITS, Prepared, prepare
from forecaster.run import (CARD_FORMAT, check_resumable, claim_run_dir, data_label, load_data,
                            make_module, network_kwargs, raw_data, trainer_for, unit_label)
from forecaster.train import TrainResult, predict, train
from forecaster.windows import WindowDataModule

FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet")


@dataclass
class Panel:
    """Prepared series laid end to end: series i owns rows [offsets[i], offsets[i + 1])."""

    names: list[str]
    prepared: list[Prepared]
    offsets: np.ndarray  # (S + 1,)

    def datamodule(self, cfg: FitConfig) -> WindowDataModule:
        inputs = np.concatenate([p.inputs for p in self.prepared])  # S x (T_i, F) -> (sum T_i, F)
        C = len(self.prepared[0].target_names)
        starts = {split: np.concatenate([p.starts[split] + off for p, off in
                                         zip(self.prepared, self.offsets[:-1])]) for split in SPLITS}
        return WindowDataModule(inputs, inputs[:, :C], starts, cfg.lookback, cfg.horizon,
                                relative=self.prepared[0].relative, batch_size=cfg.batch_size,
                                seed=cfg.seed)

    def per_series(self, values: np.ndarray, split: str) -> list[np.ndarray]:
        """Split (N, ...) rows of all series' `split` windows into one array per series."""
        counts = [len(p.starts[split]) for p in self.prepared]
        return np.split(values, np.cumsum(counts)[:-1])


@dataclass
class PanelResult:
    run_dir: Path
    config: FitConfig
    metrics: dict
    forecasts: pd.DataFrame  # every test forecast, with a `series` column
    panel: Panel
    module: ForecastModule
    training: TrainResult

    @property
    def report(self) -> Path:
        return self.run_dir / "report.html"

    @property
    def unit(self) -> str:
        return unit_label(_first_source(self.config), self.panel.prepared[0].target_names)

    def figures(self) -> dict:
        """Every report figure as a plotly Figure, by name (for notebooks)."""
        return panel_figures(self.metrics, self.forecasts, self.unit)


def load_series(cfg: FitConfig) -> dict[str, ValidFrame]:
    """Every series the config names, each validated on its own, by name."""
    if cfg.series_col:
        return _long_format(cfg)
    if cfg.csv:
        folder = Path(cfg.csv)
        files = sorted(f for f in folder.iterdir() if f.is_file() and f.name.endswith(FILE_SUFFIXES))
        if not files:
            raise DataError(f"folder {folder} holds no .csv, .csv.gz or .parquet file; put one file per "
                            "series in it")
        return {_stem(f): load_data(replace(cfg, csv=str(f))) for f in files}
    if cfg.ticker:
        return {t.upper(): load_data(replace(cfg, ticker=t)) for t in names_in(cfg.ticker)}
    return {d.lower(): load_data(replace(cfg, dataset=d)) for d in names_in(cfg.dataset)}


def _stem(path: Path) -> str:
    return path.name.removesuffix(".gz").removesuffix(".csv").removesuffix(".parquet")


def _long_format(cfg: FitConfig) -> dict[str, ValidFrame]:
    raw, targets, features, kind = raw_data(cfg, extra=(cfg.series_col,))
    if raw[cfg.series_col].isna().any():
        raise DataError(f"{cfg.csv}: column {cfg.series_col!r} has empty series names; fill them in")
    return {str(name): validate_frame(group.drop(columns=cfg.series_col), targets, features, kind=kind,
                                      max_gap=cfg.max_gap, name=f"{Path(cfg.csv).stem}[{name}]")
            for name, group in raw.groupby(cfg.series_col, sort=True)}


def split_times(frames: dict[str, ValidFrame], val_size: float, test_size: float) -> tuple:
    """The validation and test cutoffs: timestamps at the (1 - val - test) and (1 - test)
    points of all series' timestamps pooled, so every series is split at the same times."""
    indexes = [f.data.index for f in frames.values()]
    if len({ix.tz is None for ix in indexes}) > 1:
        raise DataError("some series have time zones and some do not; give all of them a time zone "
                        "(--tz) or none")
    stamps = np.sort(np.concatenate([ix.as_unit("ns").asi8 for ix in indexes]))
    tz = indexes[0].tz
    def at(q: float) -> pd.Timestamp:
        return pd.Timestamp(int(stamps[int(round(q * (len(stamps) - 1)))]), tz=tz)
    return at(1 - val_size - test_size), at(1 - test_size)


def prepare_panel(frames: dict[str, ValidFrame], cfg: FitConfig) -> Panel:
    """Prepare each series with its own scalers and the shared split times."""
    val_start, test_start = split_times(frames, cfg.val_size, cfg.test_size)
    prepared = []
    for name, frame in frames.items():
        index = frame.data.index
        if index[-1] < test_start or index[0] >= val_start:
            raise DataError(f"series {name!r} runs from {index[0]} to {index[-1]}, but every series "
                            f"needs training rows before {val_start} and test rows from {test_start}, "
                            "where all series are split; drop this series or give it the missing span")
        a, b = int(index.searchsorted(val_start)), int(index.searchsorted(test_start))
        bounds = {"train": (0, a), "val": (a, b), "test": (b, len(index))}
        try:
            prepared.append(prepare(frame, cfg.lookback, cfg.horizon, cfg.val_size, cfg.test_size,
                                    transform=cfg.transform, calendar=cfg.calendar,
                                    stride=cfg.stride, bounds=bounds))
        except DataError as err:
            raise DataError(f"series {name!r} (the splits start at {val_start} and {test_start}): "
                            f"{err}; drop this series or give it more history") from None
    first = prepared[0]
    for name, p in zip(frames, prepared):
        if p.input_names != first.input_names or p.transform != first.transform:
            raise DataError(f"series {name!r} has inputs {p.input_names} ({p.transform}), the first "
                            f"has {first.input_names} ({first.transform}); give every series the "
                            "same columns and sampling")
    offsets = np.cumsum([0, *(len(p.index) for p in prepared)])
    return Panel(list(frames), prepared, offsets)


def overall_metrics(per_series: dict[str, dict]) -> dict:
    """How the model does across series: wins against naive, the geometric mean of the MAE
    ratios, and each forecaster's mean MASE (scale-free, so it can be averaged)."""
    ratios = np.array([m["mae_ratio_to_naive"] for m in per_series.values()])
    first = next(iter(per_series.values()))
    model = first["model"]["name"]
    mase = {model: float(np.mean([m["model"]["MASE"] for m in per_series.values()]))}
    for b in first["baselines"]:
        mase[b] = float(np.mean([m["baselines"][b]["MASE"] for m in per_series.values()]))
    wins, n, geo = int((ratios < 1).sum()), len(ratios), float(np.exp(np.mean(np.log(ratios))))
    verdict = (f"{model} beats the naive last value on {wins} of {n} series; geometric mean MAE "
               + (f"{100 * (1 - geo):.1f}% lower" if geo < 1 else f"{100 * (geo - 1):.1f}% higher, so "
                  "overall it does NOT beat naive"))
    return {"model": model, "series": n, "beats_naive": wins, "mae_ratio_to_naive": geo,
            "mae_ratio_median": float(np.median(ratios)), "mean_MASE": mase, "verdict": verdict}


def fit_panel(cfg: FitConfig, progress: bool = True, resume: bool = False) -> PanelResult:
    """Train one network on every series and evaluate it on each one's test split."""
    run_dir, writer = claim_run_dir(cfg, resume)
    last = check_resumable(run_dir) if resume else None
    trainer = trainer_for(cfg, run_dir, progress)
    frames = load_series(cfg)
    panel = prepare_panel(frames, cfg)
    data = panel.datamodule(cfg)
    if writer:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.yaml", dump_yaml(cfg))
        atomic_write_text(run_dir / "model.json", json.dumps(panel_card(cfg, panel), indent=2))

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = make_module(cfg, build_network(cfg.model, **network_kwargs(cfg, panel.prepared[0])))
    trained = train(module, data, trainer, last)
    mean, _ = predict(module, data, "test")  # (N, H, C) model space, all series
    metrics: dict = {"series": {}}
    frames_out = []
    for name, p, m in zip(panel.names, panel.prepared, panel.per_series(mean, "test")):
        pred = p.to_levels(m, "test")
        metrics["series"][name] = evaluate(p, pred, cfg.model, "test")
        f = forecast_frame(p, {cfg.model: pred, **baseline_forecasts(p, "test")}, "test")
        frames_out.append(f.assign(series=name).set_index("series", append=True))
    metrics["overall"] = overall_metrics(metrics["series"])
    metrics["training"] = {"epochs": trained.epochs, "best_epoch": trained.best_epoch,
                           "seconds": round(trained.seconds, 2),
                           "parameters": count_parameters(module.network),
                           "windows": {s: int(len(data.starts[s])) for s in SPLITS},
                           "train_loss": trained.train_loss, "val_loss": trained.val_loss}
    metrics["data"] = {"source": data_label(cfg), "series": len(panel.names),
                       "rows": int(panel.offsets[-1]), "inputs": panel.prepared[0].input_names,
                       "notes": [f"{n}: {note}" for n, fr in frames.items() for note in fr.notes]}
    forecasts = pd.concat(frames_out).reorder_levels(["series", "cutoff", "timestamp"])
    result = PanelResult(run_dir, cfg, metrics, forecasts, panel, module, trained)
    if not trainer.is_global_zero:
        return result  # another process (rank 0) writes the run
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    atomic_write(run_dir / "forecasts.csv", lambda tmp: forecasts.to_csv(tmp))
    first = panel.prepared[0]
    write_panel_report(result.report, title=f"{data_label(cfg)}: one {cfg.model} for {len(panel.names)} series",
                       subtitle=(f"lookback {first.lookback}, horizon {first.horizon}, transform "
                                 f"{first.transform}, per-series scaling, trained {trained.epochs} "
                                 f"epochs (best {trained.best_epoch})"),
                       metrics=metrics, forecasts=forecasts, unit=result.unit)
    return result


def _first_source(cfg: FitConfig) -> FitConfig:
    """The config of the first series alone (for its units)."""
    if cfg.ticker:
        return replace(cfg, ticker=names_in(cfg.ticker)[0])
    if cfg.dataset:
        return replace(cfg, dataset=names_in(cfg.dataset)[0])
    return cfg


def panel_card(cfg: FitConfig, panel: Panel) -> dict:
    """model.json of a panel run: the network, and each series' scaling."""
    first = panel.prepared[0]
    return {"format": CARD_FORMAT, "forecaster_version": __version__, "network": cfg.model, "network_kwargs": network_kwargs(cfg, first),
            "lookback": first.lookback, "horizon": first.horizon, "transform": first.transform,
            "calendar": cfg.calendar, "inputs": first.input_names, "targets": first.target_names,
            "kind": first.kind, "series": {
                name: {"input_scaler": {"mean": p.input_scaler.mean.tolist(), "std": p.input_scaler.std.tolist()},
                       "target_scaler": {"mean": p.target_scaler.mean.tolist(), "std": p.target_scaler.std.tolist()}}
                for name, p in zip(panel.names, panel.prepared)}}
