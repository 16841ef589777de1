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

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster._io import atomic_write, atomic_write_text
from forecaster.backtest_report import write_backtest_report
from forecaster.config import FitConfig, dump_yaml, single_series
from forecaster.errors import ConfigError, DataError
from forecaster.evaluate import baseline_forecasts, forecast_frame, naive_scale, scores
from forecaster.frame import ValidFrame, slice_frame
from forecaster.prepare import Prepared, check_sizes, prepare
from forecaster.run import data_label, fit_network, load_data, run_dir_for, trainer_for, unit_label
from forecaster.windows import WindowDataModule


@dataclass
class Fold:
    number: int
    cutoff: pd.Timestamp
    prepared: Prepared
    pred: np.ndarray  # (N, H, C) test forecasts in original units
    baselines: dict[str, np.ndarray]
    metrics: dict


@dataclass
class BacktestResult:
    run_dir: Path
    metrics: dict
    forecasts: pd.DataFrame
    folds: list[Fold]

    @property
    def report(self) -> Path:
        return self.run_dir / "report.html"


def check_fold_args(folds: int, window: str) -> None:
    if folds < 1:
        raise ConfigError(f"--folds must be >= 1, got {folds}")
    if window not in ("expanding", "sliding"):
        raise ConfigError(f"--window must be expanding or sliding, got {window!r}")


def fold_rows(T: int, folds: int, test_size: float, val_size: float, window: str) -> list[dict]:
    """Row bounds of each fold: start of its data, train/val/test [first, end) within it."""
    check_fold_args(folds, window)
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


def directional_accuracy(actual: np.ndarray, forecast: np.ndarray, last: np.ndarray) -> dict:
    """How often the forecast moves the same way as the actual value from the cutoff, per step."""
    moved = actual != last[:, None, :]
    hit = np.sign(forecast - last[:, None, :]) == np.sign(actual - last[:, None, :])
    per_step = [float(hit[:, h][moved[:, h]].mean()) for h in range(actual.shape[1])]
    return {"overall": float(hit[moved].mean()), "per_step": per_step}


def backtest(cfg: FitConfig, folds: int = 5, window: str = "expanding", fine_tune: bool = False,
             progress: bool = True) -> BacktestResult:
    check_sizes(cfg.lookback, cfg.horizon, cfg.val_size, cfg.test_size, cfg.stride)
    check_fold_args(folds, window)  # bad flags fail before any work
    cfg = single_series(cfg, "backtest")
    run_dir = run_dir_for(cfg, "backtest")
    trainer_for(cfg, run_dir / "fold-1", progress=False)
    frame = load_data(cfg)
    plan = fold_rows(len(frame.data), folds, cfg.test_size, cfg.val_size, window)
    prepared = [prepare_fold(cfg, frame, k, rows) for k, rows in enumerate(plan, start=1)]  # fail early
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml",
                      f"# forecaster backtest --folds {folds} --window {window}"
                      f"{' --fine-tune' if fine_tune else ''}\n" + dump_yaml(cfg))
    results: list[Fold] = []
    state = None
    for k, p in enumerate(prepared, start=1):
        if progress:
            print(f"\n=== fold {k} of {folds} ===", flush=True)
        fold = run_fold(cfg, p, k, run_dir / f"fold-{k}", progress, state if fine_tune else None)
        state = fold.state
        results.append(fold.fold)
    metrics = backtest_metrics(cfg, results, frame, folds, window, fine_tune)
    forecasts = pd.concat([fold_frame(f, cfg.model) for f in results])
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    atomic_write(run_dir / "forecasts.csv", lambda tmp: forecasts.to_csv(tmp))
    write_backtest_report(run_dir / "report.html", f"{data_label(cfg)}: {cfg.model} walk-forward backtest",
                          frame.data[frame.targets], forecasts, metrics, unit_label(cfg, frame.targets))
    return BacktestResult(run_dir, metrics, forecasts, results)


@dataclass
class _FoldRun:
    fold: Fold
    state: dict


def prepare_fold(cfg: FitConfig, frame: ValidFrame, k: int, rows: dict) -> Prepared:
    """Fold k's rows, split by its bounds, with scalers fitted on its own training rows."""
    sub = slice_frame(frame, rows["start"], rows["start"] + rows["bounds"]["test"][1])
    try:
        return prepare(sub, cfg.lookback, cfg.horizon, cfg.val_size, cfg.test_size, cfg.transform,
                       cfg.calendar, cfg.stride, bounds=rows["bounds"])
    except DataError as err:
        raise DataError(f"fold {k}: {err}; use fewer --folds or a larger --test-size") from None


def run_fold(cfg: FitConfig, p: Prepared, k: int, folder: Path, progress: bool,
             init_state: dict | None) -> _FoldRun:
    data = WindowDataModule(p.inputs, p.targets, p.starts, p.lookback, p.horizon,
                            relative=p.relative, batch_size=cfg.batch_size, seed=cfg.seed)
    run = fit_network(cfg, cfg.model, p, data, trainer_for(cfg, folder, progress), init_state=init_state)
    cutoff = p.index[p.bounds["test"][0] - 1]
    fold = Fold(k, cutoff, p, run.pred, baseline_forecasts(p, "test"), run.metrics)
    return _FoldRun(fold, {n: v.detach().clone() for n, v in run.module.network.state_dict().items()})


def backtest_metrics(cfg: FitConfig, folds: list[Fold], frame: ValidFrame, n_folds: int, window: str,
                     fine_tune: bool) -> dict:
    per_fold = []
    for f in folds:
        m, b = f.metrics["model"], f.metrics["baselines"]
        per_fold.append({"fold": f.number, "cutoff": str(f.cutoff), "train_rows": f.prepared.bounds["val"][1],
                         "test_windows": int(len(f.prepared.starts["test"])),
                         "model": {k: m[k] for k in ("MAE", "RMSE", "sMAPE", "MASE")},
                         "naive": {k: b["naive"][k] for k in ("MAE", "RMSE", "sMAPE", "MASE")},
                         "drift": {k: b["drift"][k] for k in ("MAE", "RMSE", "sMAPE", "MASE")},
                         "mae_ratio_to_naive": f.metrics["mae_ratio_to_naive"]})
    actual = np.concatenate([f.prepared.actuals("test") for f in folds])
    last = np.concatenate([f.prepared.levels[f.prepared.cutoffs("test")] for f in folds])
    pred = np.concatenate([f.pred for f in folds])
    observed = np.ones_like(actual, dtype=bool)
    scale = naive_scale(folds[0].prepared)  # in-sample scale of the first fold's training rows
    aggregate = {"model": {"name": cfg.model, **scores(actual, pred, observed, scale)}, "baselines": {}}
    for name in ("naive", "seasonal_naive", "drift"):
        base = np.concatenate([f.baselines[name] for f in folds])
        aggregate["baselines"][name] = {"name": name, **scores(actual, base, observed, scale)}
    ratio = aggregate["model"]["MAE"] / aggregate["baselines"]["naive"]["MAE"]
    out = {"model": cfg.model, "folds": per_fold, "aggregate": aggregate, "mae_ratio_to_naive": ratio,
           "folds_beating_naive": sum(f["mae_ratio_to_naive"] < 1 for f in per_fold),
           "verdict": (f"over {n_folds} folds {cfg.model} "
                       + ("beats" if ratio < 1 else "does NOT beat")
                       + f" the naive last value: MAE {abs(100 * (ratio - 1)):.1f}% "
                       + ("lower" if ratio < 1 else "higher")),
           "setup": {"folds": n_folds, "window": window, "fine_tune": fine_tune,
                     "lookback": cfg.lookback, "horizon": cfg.horizon, "test_size": cfg.test_size},
           "data": {"source": data_label(cfg), "kind": frame.kind, "rows": len(frame.data)}}
    if frame.kind == "price":
        drift = np.concatenate([f.baselines["drift"] for f in folds])
        out["directional_accuracy"] = {"model": directional_accuracy(actual, pred, last),
                                       "drift": directional_accuracy(actual, drift, last),
                                       "coin_flip": 0.5}
    return out


def fold_frame(f: Fold, model: str) -> pd.DataFrame:
    frame = forecast_frame(f.prepared, {model: f.pred, **f.baselines}, "test")
    return frame.assign(fold=f.number)
