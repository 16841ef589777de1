"""`backtest`: rolling-origin evaluation, the model walking forward through history.

The last `test_size` share of the rows is cut into K consecutive folds. Fold k has a cutoff
c_k (the last row it may learn from) and tests on the rows after it up to the next fold:
- its training rows are all rows up to c_k ("expanding") or the same number of most recent
  rows as the first fold had ("sliding"); the last `val_size` share of them is the validation
  split for early stopping;
- the scalers are refitted and the model retrained on them (or, with fine_tune, trained
  further from the previous fold's weights);
- every test window's forecast uses inputs up to its own cutoff only, made in batched passes.
Changing any value after c_k changes neither fold k's model nor its forecast made at c_k.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster._io import atomic_write_text, write_csv, write_metrics_json
from forecaster.config import FitConfig, WINDOWS, dump_yaml, single_series
from forecaster.data.frame import ValidFrame, slice_frame
from forecaster.data.panel import Panel
from forecaster.data.prepare import Prepared, prepare
from forecaster.data.select import data_label, load_data, unit_label
from forecaster.errors import ConfigError, DataError
from forecaster.evaluation.baselines import BASELINES
from forecaster.evaluation.metrics import METRICS, naive_scale, observed_targets, scores
from forecaster.evaluation.significance import diebold_mariano, shared_steps, window_losses
from forecaster.evaluation.tables import forecast_frame, verdict
from forecaster.report.backtest import write_backtest_report
from forecaster.runs.folder import claimed, run_dir_for
from forecaster.runs.pipeline import evaluate_network, train_network, trainer_for
from forecaster.runs.results import METRICS_SCHEMA, BacktestResult


@dataclass
class Fold:
    number: int
    cutoff: pd.Timestamp
    prepared: Prepared
    pred: np.ndarray  # (N, H, C) test forecasts in original units
    baselines: dict[str, np.ndarray]
    metrics: dict


def fold_rows(T: int, folds: int, test_size: float, val_size: float, window: str) -> list[dict]:
    """Row bounds of each fold: start of its data, train/val/test [first, end) within it."""
    if folds < 1 or window not in WINDOWS:
        raise ConfigError(f"need folds >= 1 and window expanding or sliding, got {folds} and {window!r}")
    first_test = int(round(T * (1 - test_size)))
    edges = np.linspace(first_test, T, folds + 1).round().astype(int)
    out = []
    for k in range(folds):
        cutoff_end, end = int(edges[k]), int(edges[k + 1])  # train+val rows end where the test starts
        start = 0 if window == "expanding" else cutoff_end - first_test
        val_first = start + int(round((cutoff_end - start) * (1 - val_size)))
        out.append({"start": start, "bounds": {"train": (0, val_first - start),
                                               "val": (val_first - start, cutoff_end - start),
                                               "test": (cutoff_end - start, end - start)}})
    return out


def directional_accuracy(actual: np.ndarray, forecast: np.ndarray, last: np.ndarray,
                         observed: np.ndarray | None = None) -> dict:
    """How often the forecast moves the same way as the actual value from the cutoff, per step
    (over observed targets that moved)."""
    moved = actual != last[:, None, :]
    if observed is not None:
        moved &= observed
    hit = np.sign(forecast - last[:, None, :]) == np.sign(actual - last[:, None, :])
    per_step = [float(hit[:, h][moved[:, h]].mean()) for h in range(actual.shape[1])]
    return {"overall": float(hit[moved].mean()), "per_step": per_step}


def backtest(cfg: FitConfig, progress: bool = True) -> BacktestResult:
    """Walk forward over `cfg.folds` folds (`cfg.window`, `cfg.fine_tune`); write one report."""
    cfg = single_series(cfg, "backtest")
    if cfg.split_rows:
        raise ConfigError("backtest cuts its own folds from --test-size and --folds; drop --split-rows "
                          "(`forecaster fit --split-rows` evaluates one fixed split)")
    run_dir = run_dir_for(cfg, "backtest")
    trainer_for(cfg, run_dir / "fold-1", progress=False)  # bad trainer flags fail before any work
    frame = load_data(cfg)
    plan = fold_rows(len(frame.data), cfg.folds, cfg.test_size, cfg.val_size, cfg.window)
    prepared = [prepare_fold(cfg, frame, k, rows) for k, rows in enumerate(plan, start=1)]  # fail early
    with claimed(run_dir, reuse=cfg.overwrite, overwrite=cfg.overwrite):
        return train_and_write(cfg, run_dir, frame, prepared, progress)


def train_and_write(cfg: FitConfig, run_dir: Path, frame: ValidFrame, prepared: list[Prepared],
                    progress: bool) -> BacktestResult:
    """Train and evaluate every fold and write the backtest into its claimed folder."""
    atomic_write_text(run_dir / "config.yaml", dump_yaml(cfg))
    results: list[Fold] = []
    state = None
    for k, p in enumerate(prepared, start=1):
        if progress:
            print(f"\n=== fold {k} of {cfg.folds} ===", flush=True)
        fold, state = run_fold(cfg, p, k, run_dir / f"fold-{k}", progress, state if cfg.fine_tune else None)
        results.append(fold)
    metrics = backtest_metrics(cfg, results, frame)
    forecasts = pd.concat([fold_frame(f, cfg.model) for f in results])
    series = frame.data[frame.targets]
    result = BacktestResult(run_dir=run_dir, config=cfg, kind="backtest", metrics=metrics,
                            held_forecasts=forecasts, unit=unit_label(cfg, frame.targets), series=series,
                            folds=results)
    write_metrics_json(run_dir / "metrics.json", metrics)
    write_csv(run_dir / "forecasts.csv", forecasts)
    write_backtest_report(result.report, f"{data_label(cfg)}: {cfg.model} walk-forward backtest",
                          series, forecasts, metrics, result.unit)
    return result


def prepare_fold(cfg: FitConfig, frame: ValidFrame, k: int, rows: dict) -> Prepared:
    """Fold k's rows, split by its bounds, with transforms and scalers fitted on its own
    training rows."""
    sub = slice_frame(frame, rows["start"], rows["start"] + rows["bounds"]["test"][1])
    try:
        return prepare(sub, cfg.lookback, cfg.horizon, cfg.val_size, cfg.test_size, cfg.transform,
                       cfg.calendar, cfg.stride, bounds=rows["bounds"], anchor=cfg.anchor, network=cfg.model)
    except DataError as err:
        raise DataError(f"fold {k}: {err}; use fewer --folds or a larger --test-size") from None


def run_fold(cfg: FitConfig, p: Prepared, k: int, folder: Path, progress: bool,
             init_state: dict | None) -> tuple[Fold, dict]:
    """Train and evaluate fold k (a panel of one series); returns it and its final weights."""
    panel = Panel([data_label(cfg)], [p], np.array([0, len(p.index)]))
    data = panel.datamodule(cfg.batch_size, cfg.seed)
    net = train_network(cfg, cfg.model, panel, data, trainer_for(cfg, folder, progress), init_state=init_state)
    ev = evaluate_network(net, panel, data)[0]
    cutoff = p.index[p.bounds["test"][0] - 1]
    fold = Fold(k, cutoff, p, ev.pred, ev.baselines, ev.metrics)
    return fold, {n: v.detach().clone() for n, v in net.module.network.state_dict().items()}


def backtest_metrics(cfg: FitConfig, folds: list[Fold], frame: ValidFrame) -> dict:
    per_fold = []
    for f in folds:
        m, b = f.metrics["model"], f.metrics["baselines"]
        per_fold.append({"fold": f.number, "cutoff": str(f.cutoff), "train_rows": f.prepared.bounds["val"][1],
                         "test_windows": int(len(f.prepared.starts["test"])),
                         "model": {k: m[k] for k in METRICS},
                         "naive": {k: b["naive"][k] for k in METRICS},
                         "drift": {k: b["drift"][k] for k in METRICS},
                         "mae_ratio_to_naive": f.metrics["mae_ratio_to_naive"]})
    actual = np.concatenate([f.prepared.actuals("test") for f in folds])
    last = np.concatenate([f.prepared.levels[f.prepared.cutoffs("test")] for f in folds])
    pred = np.concatenate([f.pred for f in folds])
    observed = np.concatenate([observed_targets(f.prepared, "test") for f in folds])  # filled: left out
    scale = naive_scale(folds[0].prepared)  # in-sample scale of the first fold's training rows
    aggregate = {"model": {"name": cfg.model, **scores(actual, pred, observed, scale)}, "baselines": {}}
    for name in BASELINES:
        base = np.concatenate([f.baselines[name] for f in folds])
        aggregate["baselines"][name] = {"name": name, **scores(actual, base, observed, scale)}
    ratio = aggregate["model"]["MAE"] / aggregate["baselines"]["naive"]["MAE"]
    naive = np.concatenate([f.baselines["naive"] for f in folds])  # windows in time order, fold by fold
    test = diebold_mariano(window_losses(actual, pred, observed), window_losses(actual, naive, observed),
                           shared_steps(cfg.horizon, cfg.stride))
    out = {"schema": METRICS_SCHEMA, "kind": "backtest", "model": cfg.model, "folds": per_fold,
           "aggregate": aggregate, "mae_ratio_to_naive": ratio,
           "folds_beating_naive": sum(f["mae_ratio_to_naive"] < 1 for f in per_fold),
           "significance": {"naive": test.to_dict()},
           "verdict": verdict(cfg.model, ratio, f"over {cfg.folds} folds", test=test),
           "setup": {"folds": cfg.folds, "window": cfg.window, "fine_tune": cfg.fine_tune,
                     "lookback": cfg.lookback, "horizon": cfg.horizon, "test_size": cfg.test_size},
           "data": {"source": data_label(cfg), "kind": frame.kind, "rows": len(frame.data)}}
    if frame.kind == "price":
        drift = np.concatenate([f.baselines["drift"] for f in folds])
        out["directional_accuracy"] = {"model": directional_accuracy(actual, pred, last, observed),
                                       "drift": directional_accuracy(actual, drift, last, observed),
                                       "coin_flip": 0.5}
    return out


def fold_frame(f: Fold, model: str) -> pd.DataFrame:
    frame = forecast_frame(f.prepared, {model: f.pred, **f.baselines}, "test")
    return frame.assign(fold=f.number)
