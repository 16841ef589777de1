"""`fit`: source -> frame validation -> split and scale -> windows -> model -> evaluation -> report.

Everything a run produces lands in its run folder: config.yaml (resolved settings),
model.json (network and scaling, for reloading), checkpoints/ (best.ckpt, the best epoch,
and last.ckpt, the last completed one),
metrics.json, forecasts.csv (every test forecast with its real timestamp) and report.html.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch

from forecaster import __version__
from forecaster._io import atomic_write, atomic_write_text
from forecaster.config import FitConfig, dump_yaml, is_panel, load_yaml, make_config, names_in
from forecaster.diagnostics import gradient_flow
from forecaster.errors import ConfigError
from forecaster.evaluate import baseline_forecasts, evaluate, forecast_frame, interval_metrics
from forecaster.frame import ValidFrame, validate_frame
from forecaster.module import ForecastModule
from forecaster.nets import build_network, count_parameters
from forecaster.prepare import Prepared, prepare
from forecaster.report import figures, write_report
from forecaster.sources import fetch_prices, load_dataset, load_file
from forecaster.sources.embedded import DEFAULT_DATASET, get_dataset
from forecaster.train import TrainResult, make_trainer, predict, train
from forecaster.windows import WindowDataModule

PRICE_FEATURES = ["Open", "High", "Low", "Volume"]


@dataclass
class FitResult:
    run_dir: Path
    config: FitConfig
    metrics: dict
    forecasts: pd.DataFrame
    prepared: Prepared
    module: ForecastModule
    training: TrainResult

    @property
    def report(self) -> Path:
        return self.run_dir / "report.html"

    @property
    def series(self) -> pd.DataFrame:
        """The target columns in original units, over every row used."""
        return self.prepared.target_frame()

    @property
    def history(self) -> dict:
        t = self.training
        return {"train_loss": t.train_loss, "val_loss": t.val_loss, "best_epoch": t.best_epoch}

    @property
    def spans(self) -> dict:
        p = self.prepared
        return {k: (p.index[a], p.index[b - 1]) for k, (a, b) in p.bounds.items()}

    @property
    def unit(self) -> str:
        """Axis label of the targets, with units where the data source knows them."""
        return unit_label(self.config, self.prepared.target_names)

    def figures(self) -> dict:
        """Every report figure as a plotly Figure, by name (for notebooks)."""
        return figures(self.series, self.spans, self.forecasts, self.metrics, self.history, self.unit)


def data_label(cfg: FitConfig) -> str:
    if cfg.ticker:
        names = [t.upper() for t in names_in(cfg.ticker)]
    elif cfg.csv:
        names = [Path(cfg.csv).stem]
    else:
        names = [d.lower() for d in names_in(cfg.dataset or DEFAULT_DATASET)]
    return "+".join(names) if len(names) <= 4 else f"{names[0]}+{len(names) - 1}-more"


def unit_label(cfg: FitConfig, targets: list[str]) -> str:
    units: dict[str, str] = {}
    if cfg.ticker:
        units = {t: "adjusted" for t in targets if t != "Volume"}
    elif not cfg.csv:
        units = get_dataset(cfg.dataset or DEFAULT_DATASET).units
    return ", ".join(f"{t} ({units[t]})" if t in units else t for t in targets)


def load_data(cfg: FitConfig) -> ValidFrame:
    """The validated frame the config names: a ticker, a file or an embedded dataset."""
    raw, targets, features, kind = raw_data(cfg)
    return validate_frame(raw, targets, features, kind=kind, max_gap=cfg.max_gap, name=data_label(cfg))


def raw_data(cfg: FitConfig, extra: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[str], list[str], str]:
    """The raw frame the config names (a file also keeps the `extra` columns), its target and
    feature columns and its kind, before validation."""
    if cfg.ticker:
        raw = fetch_prices(cfg.ticker, interval=cfg.interval, offline=cfg.offline)
        targets = cfg.target or ["Close"]
        features = PRICE_FEATURES if cfg.features is None else cfg.features
        kind = cfg.kind or "price"
    elif cfg.csv:
        if not cfg.target:
            raise ConfigError(f"--csv needs --target: the column to forecast in {cfg.csv}")
        features = [f for f in cfg.features or [] if f.lower() != "none"]
        raw = load_file(cfg.csv, time_col=cfg.time_col, columns=[*extra, *cfg.target, *features], tz=cfg.tz)
        targets, kind = cfg.target, cfg.kind or "sensor"
    else:
        ds = get_dataset(cfg.dataset or DEFAULT_DATASET)
        raw = load_dataset(ds.name)
        targets = cfg.target or ds.target
        features = ds.features if cfg.features is None else cfg.features
        kind = cfg.kind or ds.kind
    return raw, targets, [f for f in features if f.lower() != "none"], kind


def data_info(cfg: FitConfig, frame: ValidFrame, p: Prepared) -> dict:
    return {"source": data_label(cfg), "kind": frame.kind, "rows": len(frame.data),
            "inputs": p.input_names, "notes": frame.notes}


def run_dir_for(cfg: FitConfig, what: str | None = None) -> Path:
    """The run folder; refuses to reuse a non-empty one unless overwrite is set."""
    if cfg.out:
        path = Path(cfg.out)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path("runs") / f"{data_label(cfg).lower()}-{what or cfg.model}-{stamp}"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path} is a file; choose a folder path")
    if path.is_dir() and any(path.iterdir()) and not cfg.overwrite:
        raise ConfigError(f"run folder {path} already holds files; choose another --out, "
                          "or pass --overwrite to replace them")
    return path


@dataclass
class ModelRun:
    """One trained network: its module, training record, test forecasts and metrics."""

    name: str
    module: ForecastModule
    training: TrainResult
    pred: np.ndarray  # (N, H, C) test forecasts in original units
    metrics: dict
    bounds: dict[str, np.ndarray]  # 80% and 95% conformal interval bounds of the test forecasts
    conformal: dict  # quantiles for model.json
    flow_init: np.ndarray | None = None  # gradient flow through time before training
    flow_trained: np.ndarray | None = None  # and after


def prepare_data(cfg: FitConfig) -> tuple[ValidFrame, Prepared, WindowDataModule]:
    """Source, validation, split and scale, windows: everything before a network."""
    frame = load_data(cfg)
    p = prepare(frame, cfg.lookback, cfg.horizon, cfg.val_size, cfg.test_size,
                transform=cfg.transform, calendar=cfg.calendar, stride=cfg.stride)
    data = WindowDataModule(p.inputs, p.targets, p.starts, p.lookback, p.horizon,
                            relative=p.relative, batch_size=cfg.batch_size, seed=cfg.seed)
    return frame, p, data


def trainer_for(cfg: FitConfig, folder: Path, progress: bool) -> L.Trainer:
    return make_trainer(folder, max_epochs=cfg.max_epochs, patience=cfg.patience,
                        gradient_clip_val=cfg.gradient_clip_val, accelerator=cfg.accelerator,
                        devices=cfg.devices, precision=cfg.precision, strategy=cfg.strategy,
                        num_nodes=cfg.num_nodes, progress=progress)


def fit_network(cfg: FitConfig, name: str, p: Prepared, data: WindowDataModule, trainer: L.Trainer,
                probe: tuple | None = None, resume_from: Path | None = None,
                init_state: dict | None = None) -> ModelRun:
    """Seed, build network `name`, train it, forecast the test split and evaluate it.

    With a `probe` batch (x, y), also measure the gradient flow before and after training;
    with `init_state`, start from those network weights instead of a fresh initialization.
    """
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    network = build_network(name, **network_kwargs(cfg, p))
    if init_state is not None:  # fine-tuning: start from earlier weights
        network.load_state_dict(init_state)
    flow_init = gradient_flow(network, *probe) if probe else None
    module = make_module(cfg, network)
    trained = train(module, data, trainer, resume_from)
    flow_trained = gradient_flow(network, *probe) if probe else None
    mean, std = predict(module, data, "test")
    pred = p.to_levels(mean, "test")
    metrics = evaluate(p, pred, name, "test")
    val_pred = p.to_levels(predict(module, data, "val")[0], "val")
    metrics["intervals"], bounds, conformal = interval_metrics(p, val_pred, pred, mean, std)
    return ModelRun(name, module, trained, pred, metrics, bounds, conformal, flow_init, flow_trained)


RUN_DIR_ENV = "FORECASTER_RUN_DIR"  # the run folder, for the processes Lightning launches (DDP)


def launched_worker() -> bool:
    """True in a process that trains for a rank other than 0 (Lightning's DDP launches them
    by re-running the command): it trains with the others and writes nothing."""
    ranks = [os.environ.get(v, "0") for v in ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK")]
    return any(r != "0" for r in ranks)


def claim_run_dir(cfg: FitConfig, resume: bool = False) -> tuple[Path, bool]:
    """The run folder and whether this process writes it. Rank 0 checks and claims the folder
    and tells the processes it launches; those reuse it without checking or writing."""
    if launched_worker():
        return Path(os.environ.get(RUN_DIR_ENV) or cfg.out or "."), False
    run_dir = Path(cfg.out) if resume else run_dir_for(cfg)
    os.environ[RUN_DIR_ENV] = str(run_dir.resolve())
    return run_dir, True


CARD_FORMAT = 1  # bump when model.json or the checkpoint layout changes incompatibly


def fit(cfg: FitConfig, progress: bool = True, resume: bool = False) -> FitResult:
    """Train the configured model and write its evaluation and report into the run folder.

    With `resume`, continue the interrupted run in `cfg.out` from its last completed epoch.
    Several series (see `forecaster.config.is_panel`) train one model on all of them and
    return a `forecaster.panel.PanelResult`.
    """
    if is_panel(cfg):
        from forecaster.panel import fit_panel  # panel builds on this module

        return fit_panel(cfg, progress, resume)
    run_dir, writer = claim_run_dir(cfg, resume)
    last = check_resumable(run_dir) if resume else None
    trainer = trainer_for(cfg, run_dir, progress)  # bad trainer flags fail before any work
    frame, p, data = prepare_data(cfg)
    if writer:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.yaml", dump_yaml(cfg))
        atomic_write_text(run_dir / "model.json", json.dumps(model_card(cfg, p), indent=2))
    run = fit_network(cfg, cfg.model, p, data, trainer, resume_from=last)
    trained, metrics = run.training, run.metrics
    metrics["training"] = {"epochs": trained.epochs, "best_epoch": trained.best_epoch,
                           "seconds": round(trained.seconds, 2),
                           "parameters": count_parameters(run.module.network),
                           "train_loss": trained.train_loss, "val_loss": trained.val_loss}
    metrics["data"] = data_info(cfg, frame, p)
    forecasts = forecast_frame(p, {cfg.model: run.pred, **run.bounds, **baseline_forecasts(p, "test")}, "test")
    result = FitResult(run_dir=run_dir, config=cfg, metrics=metrics, forecasts=forecasts,
                       prepared=p, module=run.module, training=trained)
    if not trainer.is_global_zero:
        return result  # another process (rank 0) writes the run
    atomic_write_text(run_dir / "model.json", json.dumps(model_card(cfg, p, run.conformal), indent=2))
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    atomic_write(run_dir / "forecasts.csv", lambda tmp: forecasts.to_csv(tmp))
    write_report(result.report, title=f"{data_label(cfg)}: {cfg.model} forecast",
                 subtitle=(f"lookback {p.lookback}, horizon {p.horizon}, transform {p.transform}, "
                           f"{metrics['split']['windows']} test windows, trained "
                           f"{trained.epochs} epochs (best {trained.best_epoch})"),
                 series=result.series, spans=result.spans, forecasts=forecasts, metrics=metrics,
                 history=result.history, unit=result.unit, notes=frame.notes)
    return result


def resume_config(run: str | Path, flags: dict) -> FitConfig:
    """The saved config of an interrupted run, with `flags` (e.g. max_epochs) on top."""
    run_dir = Path(run)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no config.yaml); give the --out folder "
                          "of an interrupted `forecaster fit`")
    saved = load_yaml(run_dir / "config.yaml")
    return make_config(saved, {**flags, "out": str(run_dir), "overwrite": True},
                       source=str(run_dir / "config.yaml"))


def check_resumable(run_dir: Path) -> Path:
    """`last.ckpt` of the run, checked to load without running code and to match this version."""
    card_path, last = run_dir / "model.json", run_dir / "checkpoints" / "last.ckpt"
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"{card_path} is missing or corrupt; this run cannot be resumed, start "
                          "a new one") from None
    if card.get("format") != CARD_FORMAT:
        raise ConfigError(f"{run_dir} was written by forecaster {card.get('forecaster_version', '?')} "
                          f"in an incompatible format; start a new run with this version")
    if not last.is_file():
        raise ConfigError(f"{run_dir} has no last.ckpt: no epoch finished before it stopped; start "
                          "it again instead of resuming")
    load_checkpoint(last)
    return last


def load_checkpoint(path: Path) -> dict:
    """A checkpoint, loaded with `weights_only=True`: tensors and plain data, never code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt, truncated, or a pickle that wants to run code
        first = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        raise ConfigError(f"checkpoint {path} cannot be loaded safely ({type(err).__name__}: "
                          f"{first}); it is corrupt or not a forecaster checkpoint, start a new run"
                          ) from None


def network_kwargs(cfg: FitConfig, p: Prepared) -> dict:
    """Everything `build_network` needs besides the name; saved in model.json."""
    return {"n_features": p.n_features, "horizon": p.horizon, "n_targets": len(p.target_names),
            "hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers, "dropout": cfg.dropout,
            "nonlinearity": cfg.nonlinearity, "bidirectional": cfg.bidirectional,
            "cell": cfg.cell, "attention": cfg.attention, "n_params": 2 if cfg.loss == "gaussian" else 1}


def make_module(cfg: FitConfig, network) -> ForecastModule:
    return ForecastModule(network, learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay,
                          teacher_forcing=cfg.teacher_forcing,
                          teacher_forcing_decay=cfg.teacher_forcing_decay, loss=cfg.loss)


def model_card(cfg: FitConfig, p: Prepared, conformal: dict | None = None) -> dict:
    """What it takes to rebuild the network and map new data into its space."""
    return {"format": CARD_FORMAT, "forecaster_version": __version__, "network": cfg.model,
            "network_kwargs": network_kwargs(cfg, p),
            "lookback": p.lookback, "horizon": p.horizon, "transform": p.transform,
            "calendar": cfg.calendar, "inputs": p.input_names, "targets": p.target_names,
            "kind": p.kind, "season": p.season,
            "freq": str(p.freq) if p.freq is not None else None,
            "input_scaler": {"mean": p.input_scaler.mean.tolist(), "std": p.input_scaler.std.tolist()},
            "target_scaler": {"mean": p.target_scaler.mean.tolist(), "std": p.target_scaler.std.tolist()},
            "loss": cfg.loss, "conformal": conformal}


