"""The one pipeline every command runs: source -> frame validation -> split and scale ->
windows -> network -> training -> forecasts -> evaluation against the baselines -> intervals.

One series is a panel of one: `fit` of one or many series, each model of `compare` and each
fold of `backtest` go through `prepare_data` (or a prepared `Panel`), `train_network` and
`evaluate_network`, so a feature built here reaches every command.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch

from forecaster.config import FitConfig
from forecaster.data.frame import ValidFrame
from forecaster.data.panel import Panel, holidays_of, prepare_panel
from forecaster.data.prepare import Prepared
from forecaster.data.select import load_series
from forecaster.data.windows import WindowDataModule
from forecaster.errors import ForecasterError
from forecaster.evaluation.baselines import baseline_forecasts
from forecaster.evaluation.intervals import Conformal, interval_metrics
from forecaster.evaluation.metrics import evaluate, validation_errors
from forecaster.evaluation.shrink import WHOLE, Shrink, choose_shrink
from forecaster.evaluation.tables import forecast_frame
from forecaster.nets.build import build_network, count_parameters
from forecaster.nets.segrnn import segment_length_for
from forecaster.runs.card import DataRecord, ModelCard, SeriesCard
from forecaster.training.diagnostics import gradient_flow
from forecaster.training.inference import predict_windows
from forecaster.training.module import ForecastModule
from forecaster.training.trainer import TrainResult, make_trainer, train


# Test and validation windows forecast at once by `evaluate_series`: a few MB of forecasts,
# where 10,000 series' 1.45 million windows held 70 MB.
PREDICTED_WINDOWS = 65_536


class NonFiniteForecasts(ForecasterError):
    """A trained network forecast inf or NaN: nothing is evaluated or reported from it."""


@dataclass
class TrainedNetwork:
    """One trained network and its training record."""

    name: str
    module: ForecastModule
    training: TrainResult
    flow_init: np.ndarray | None = None  # gradient flow through time before training
    flow_trained: np.ndarray | None = None  # and after


@dataclass
class SeriesEvaluation:
    """One series' test forecasts and their evaluation."""

    name: str
    prepared: Prepared
    pred: np.ndarray  # (N, H, C) test forecasts in original units
    metrics: dict  # evaluate(): model, baselines, ratio, verdict, split; and intervals
    bounds: dict[str, np.ndarray]  # 80% and 95% conformal bounds of the test forecasts
    conformal: Conformal
    baselines: dict[str, np.ndarray]  # each baseline's (N, H, C) test forecasts
    shrink: Shrink = WHOLE  # toward the naive last value, chosen on validation (prices)

    def columns(self, model: str) -> dict[str, np.ndarray]:
        """Each forecaster's (N, H, C) test forecasts: the model's, its bounds, the baselines."""
        return {model: self.pred, **self.bounds, **self.baselines}

    def forecasts(self, model: str) -> pd.DataFrame:
        """The long forecasts frame of this series: model, bounds and baselines."""
        return forecast_frame(self.prepared, self.columns(model), "test")


def prepare_data(cfg: FitConfig, frames: dict[str, ValidFrame] | None = None
                 ) -> tuple[dict[str, ValidFrame], Panel, WindowDataModule]:
    """Every series the config names (or `frames`, loaded already), validated, split,
    transformed and scaled, and the windows over them: everything before a network."""
    frames = frames if frames is not None else load_series(cfg)
    panel = prepare_panel(frames, cfg)
    return frames, panel, panel.datamodule(cfg.batch_size, cfg.seed)


def trainer_for(cfg: FitConfig, folder: Path, progress: bool,
                callbacks: list[L.Callback] | None = None) -> L.Trainer:
    """The configured Trainer writing into `folder`, with extra `callbacks` (e.g. a pruner)."""
    return make_trainer(folder, max_epochs=cfg.max_epochs, patience=cfg.patience,
                        gradient_clip_val=cfg.gradient_clip_val, accelerator=cfg.accelerator,
                        devices=cfg.devices, precision=cfg.precision, strategy=cfg.strategy,
                        num_nodes=cfg.num_nodes, progress=progress, callbacks=callbacks,
                        logger=cfg.logger)


def network_kwargs(cfg: FitConfig, p: Prepared) -> dict:
    """Everything `build_network` needs besides the name; saved in the model card."""
    return {"n_features": p.n_features, "horizon": p.horizon, "n_targets": len(p.target_names),
            "hidden_size": cfg.hidden_size, "num_layers": cfg.num_layers, "dropout": cfg.dropout,
            "nonlinearity": cfg.nonlinearity, "bidirectional": cfg.bidirectional,
            "cell": cfg.cell, "attention": cfg.attention, "n_params": 2 if cfg.loss == "gaussian" else 1,
            "segment_length": segment_length(cfg, p),
            "segment_decoding": cfg.segment_decoding, "norm": cfg.norm, "add_last": p.transform == "level",
            "n_future": len(p.future_names)}


def segment_length(cfg: FitConfig, p: Prepared) -> int:
    """segrnn's rows per segment: --segment-length, or chosen from the detected season."""
    return cfg.segment_length or segment_length_for(p.season, p.lookback)


def network_notes(cfg: FitConfig, name: str, p: Prepared) -> list[str]:
    """What was chosen for network `name` from the data, for the run's notes."""
    if name != "segrnn":
        return []
    w = segment_length(cfg, p)
    why = ("--segment-length" if cfg.segment_length else "the detected season" if w == p.season
           else "a quarter of the lookback, at most 24")
    return [f"segrnn: segments of {w} rows ({why}), {-(-p.lookback // w)} recurrent steps over the "
            f"lookback of {p.lookback}"]


def make_module(cfg: FitConfig, network: torch.nn.Module) -> ForecastModule:
    return ForecastModule(network, learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay,
                          teacher_forcing=cfg.teacher_forcing,
                          teacher_forcing_decay=cfg.teacher_forcing_decay, loss=cfg.loss,
                          lr_decay=cfg.lr_decay)


def train_network(cfg: FitConfig, name: str, panel: Panel, data: WindowDataModule, trainer: L.Trainer,
                  probe: tuple | None = None, resume_from: Path | None = None,
                  init_state: dict | None = None) -> TrainedNetwork:
    """Seed, build network `name` and train it on every series' training windows.

    With a `probe` batch (x, y), also measure the gradient flow before and after training;
    with `init_state`, start from those network weights instead of a fresh initialization.
    """
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    network = build_network(name, **network_kwargs(cfg, panel.first))
    if init_state is not None:  # fine-tuning: start from earlier weights
        network.load_state_dict(init_state)
    flow_init = gradient_flow(network, *probe) if probe else None
    module = make_module(cfg, network)
    trained = train(module, data, trainer, resume_from, logger=cfg.logger, hparams=cfg.to_dict())
    flow_trained = gradient_flow(network, *probe) if probe else None
    return TrainedNetwork(name, module, trained, flow_init, flow_trained)


def split_forecasts(module: ForecastModule, panel: Panel, data: WindowDataModule, split: str,
                    shrinks: list[float]) -> list[np.ndarray]:
    """Each series' (N, H, C) forecasts of `split`'s windows, in original units, each shrunk by
    its factor (see forecaster.evaluation.shrink)."""
    mean, _ = predict_windows(module, data, split)  # (N, H, C) model space, all series
    return [p.to_levels(m, split, a) for p, m, a in zip(panel.prepared, panel.per_series(mean, split), shrinks)]


def evaluate_network(net: TrainedNetwork, panel: Panel, data: WindowDataModule,
                     references: list[dict[str, np.ndarray]] | None = None) -> list[SeriesEvaluation]:
    """`evaluate_series` of every series, as a list."""
    return list(evaluate_series(net, panel, data, references))


def evaluate_series(net: TrainedNetwork, panel: Panel, data: WindowDataModule,
                    references: list[dict[str, np.ndarray]] | None = None) -> Iterator[SeriesEvaluation]:
    """Forecast every series' test windows, evaluate them against the baselines, and calibrate
    each series' conformal intervals on its validation windows (never the test split); one
    series at a time, so that a caller can write each one's forecasts and let them go before
    the next (10,000 series); their windows are forecast a group of series at a time.
    `references` (per series, name -> (N, H, C) test forecasts, e.g. an updated model's parent)
    are judged beside the baselines."""
    refs = references or [{}] * len(panel.names)
    for group in panel.groups(("test", "val"), PREDICTED_WINDOWS):  # consecutive series
        mean, std = predict_windows(net.module, data, "test", panel.windows("test", group))  # (N_g, H, C)
        val_mean, _ = predict_windows(net.module, data, "val", panel.windows("val", group))
        stds = panel.per_series(std, "test", group) if std is not None else [None] * len(group)
        for i, m, s, vm in zip(group, panel.per_series(mean, "test", group), stds,
                               panel.per_series(val_mean, "val", group)):
            name, p = panel.names[i], panel.prepared[i]
            pred, val_pred = p.to_levels(m, "test"), p.to_levels(vm, "val")
            check_finite(net, name, pred, val_pred)  # before shrinking could hide an exploded network
            shrink = choose_shrink(p, vm)
            if shrink.factor != 1.0:
                pred, val_pred = p.to_levels(m, "test", shrink.factor), p.to_levels(vm, "val", shrink.factor)
            baselines = {**baseline_forecasts(p, "test"), **refs[i]}
            metrics = evaluate(p, pred, net.name, "test", baselines)
            metrics["validation"] = validation_errors(p, val_pred)
            if shrink is not WHOLE:
                metrics["shrink"] = shrink.to_dict()
            metrics["intervals"], bounds, conformal = interval_metrics(p, val_pred, pred, m, s, shrink.factor)
            yield SeriesEvaluation(name, p, pred, metrics, bounds, conformal, baselines, shrink)


def check_finite(net: TrainedNetwork, series: str, *forecasts: np.ndarray) -> None:
    """Refuse forecasts with inf or NaN (in original units: log returns that compound past the
    largest float count too) before anything presents them as a result."""
    bad = sum(int((~np.isfinite(f)).any(axis=(1, 2)).sum()) for f in forecasts)
    if bad:
        total = sum(len(f) for f in forecasts)
        where = Path(net.training.checkpoint).parent
        raise NonFiniteForecasts(
            f"{net.name} forecasts inf or NaN for {bad} of {total} validation and test windows of "
            f"{series!r} although its training loss stayed finite: its outputs exploded; likely a "
            "learning rate too high (try --learning-rate 1e-3 or lower) or a gradient clip too loose "
            f"(try --gradient-clip-val 0.5); no metrics or report were written, the checkpoints are in {where}")


def training_info(net: TrainedNetwork, data: WindowDataModule) -> dict:
    """The metrics.json `training` block."""
    t = net.training
    return {"epochs": t.epochs, "best_epoch": t.best_epoch, "seconds": round(t.seconds, 2),
            "parameters": count_parameters(net.module.network),
            "windows": {s: int(len(v)) for s, v in data.starts.items()},
            "train_loss": t.train_loss, "val_loss": t.val_loss}


def model_card(cfg: FitConfig, panel: Panel, conformal: list[Conformal] | None = None,
               many: bool = False, parent: str | None = None, shrinks: list[float] | None = None) -> ModelCard:
    """The card of a model trained on `panel`; with `conformal` and `shrinks` (per series), its
    interval widths and shrink factors too; `parent`: the run it was updated from."""
    p = panel.first
    n_data = len(p.column_transforms)
    conformal = conformal or [None] * len(panel.names)
    shrinks = shrinks or [1.0] * len(panel.names)
    return ModelCard(
        network=cfg.model, network_kwargs=network_kwargs(cfg, p), lookback=p.lookback,
        horizon=p.horizon, transform=p.transform, targets=list(p.target_names),
        features=p.input_names[len(p.target_names):n_data],
        season_inputs=list(p.season_inputs), static=list(p.static),
        calendar=p.input_names[n_data + len(p.season_inputs):len(p.input_names) - len(p.static)],
        kind=p.kind, season=p.season, freq=p.freq, loss=cfg.loss, many=many,
        future=list(p.future_names), holidays=holidays_of(cfg),
        anchor=p.anchor, parent=parent,
        series=[SeriesCard(name, q.column_transforms, q.input_scaler, c, DataRecord.of(q.index, q.levels),
                           q.static, a) for name, q, c, a in zip(panel.names, panel.prepared, conformal, shrinks)])
