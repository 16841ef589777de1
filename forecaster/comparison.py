"""`compare`: several networks trained on the same windows, split, scaling and seed.

Writes into one run folder: metrics.json (every model and the baselines, gradient flow
through time before and after training, gradient norms per step, attention weights),
forecasts.csv (every test forecast of every model), config.yaml, one checkpoint folder per
model, and report.html.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from forecaster._io import atomic_write, atomic_write_text
from forecaster.compare_report import compare_figures, write_compare_report
from forecaster.config import COMPARE_MODELS, FitConfig, dump_yaml, single_series
from forecaster.diagnostics import attention_weights
from forecaster.errors import ConfigError
from forecaster.evaluate import baseline_forecasts, forecast_frame
from forecaster.nets import NETWORKS, count_parameters
from forecaster.prepare import Prepared
from forecaster.run import (ModelRun, data_info, data_label, fit_network, prepare_data,
                            run_dir_for, trainer_for, unit_label)

PROBE_WINDOWS = 64  # validation windows the gradient flow is measured on
ATTENTION_WINDOWS = 3  # test windows whose attention maps are kept


@dataclass
class CompareResult:
    run_dir: Path
    config: FitConfig
    metrics: dict
    forecasts: pd.DataFrame
    prepared: Prepared
    runs: dict[str, ModelRun]

    @property
    def report(self) -> Path:
        return self.run_dir / "report.html"

    def table(self) -> pd.DataFrame:
        """One row per model and baseline: MAE, RMSE, MASE, MAE relative to naive, parameters..."""
        return comparison_table(self.metrics)

    def figures(self) -> dict:
        p = self.prepared
        return compare_figures(p.target_frame(), self.forecasts, self.metrics,
                               unit_label(self.config, p.target_names))


def check_models(models: list[str]) -> list[str]:
    if not models:
        raise ConfigError("--models is empty; name at least one, e.g. --models lstm,gru")
    unknown = [m for m in models if m not in NETWORKS]
    if unknown:
        raise ConfigError(f"unknown model {unknown[0]!r}; choose from {', '.join(NETWORKS)}")
    if len(set(models)) != len(models):
        raise ConfigError("--models names a model twice; list each once")
    return models


def compare(cfg: FitConfig, models: list[str] | tuple[str, ...] = COMPARE_MODELS,
            progress: bool = True) -> CompareResult:
    """Train each named network on identical data and write one comparison report."""
    models = check_models(list(models))
    cfg = single_series(cfg, "compare")
    run_dir = run_dir_for(cfg, "compare")
    trainer_for(cfg, run_dir / models[0], progress=False)  # bad trainer flags fail before any work
    frame, p, data = prepare_data(cfg)
    val = data.dataset("val")
    probe = val[torch.linspace(0, len(val) - 1, min(PROBE_WINDOWS, len(val))).long()]
    test_x, _ = data.dataset("test")[torch.linspace(0, len(p.starts["test"]) - 1,
                                                   ATTENTION_WINDOWS).long()]
    run_dir.mkdir(parents=True, exist_ok=True)
    runs: dict[str, ModelRun] = {}
    for name in models:
        if progress:
            print(f"\n=== {name} ===", flush=True)
        runs[name] = fit_network(replace(cfg, model=name), name, p, data,
                                 trainer_for(cfg, run_dir / name, progress), probe=probe)

    metrics = comparison_metrics(cfg, p, runs, test_x)
    metrics["data"] = data_info(cfg, frame, p)
    preds = {name: r.pred for name, r in runs.items()}
    forecasts = forecast_frame(p, {**preds, **baseline_forecasts(p, "test")}, "test")
    result = CompareResult(run_dir, cfg, metrics, forecasts, p, runs)

    # The models go in a comment, so that the file stays a valid --config for fit or compare.
    atomic_write_text(run_dir / "config.yaml",
                      f"# forecaster compare --models {','.join(models)}\n" + dump_yaml(cfg))
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    atomic_write(run_dir / "forecasts.csv", lambda tmp: forecasts.to_csv(tmp))
    write_compare_report(result.report, title=f"{data_label(cfg)}: {len(models)} networks compared",
                         series=p.target_frame(),
                         forecasts=forecasts, metrics=metrics,
                         unit=unit_label(cfg, p.target_names), notes=frame.notes)
    return result


def comparison_metrics(cfg: FitConfig, p: Prepared, runs: dict[str, ModelRun],
                       test_x: torch.Tensor) -> dict:
    first = next(iter(runs.values())).metrics
    cutoffs = p.index[p.cutoffs("test")[np.linspace(0, len(p.starts["test"]) - 1,
                                                    ATTENTION_WINDOWS).astype(int)]]
    models, flow, norms, curves, attention = {}, {}, {}, {}, {}
    for name, r in runs.items():
        t = r.training
        models[name] = {**r.metrics["model"], "mae_ratio_to_naive": r.metrics["mae_ratio_to_naive"],
                        "beats_naive": r.metrics["mae_ratio_to_naive"] < 1,
                        "parameters": count_parameters(r.module.network),
                        "seconds": round(t.seconds, 2), "epochs": t.epochs, "best_epoch": t.best_epoch}
        flow[name] = {"init": r.flow_init.tolist(), "trained": r.flow_trained.tolist()}
        norms[name] = t.grad_norms
        curves[name] = {"train_loss": t.train_loss, "val_loss": t.val_loss}
        weights = attention_weights(r.module.network, test_x)
        if weights is not None:
            attention[name] = {"cutoffs": [str(c) for c in cutoffs], "weights": weights.tolist()}
    beaten = [n for n, m in models.items() if m["beats_naive"]]
    best = min(models, key=lambda n: models[n]["MAE"])
    margin = 100 * (models[best]["mae_ratio_to_naive"] - 1)
    summary = (f"{len(beaten)} of {len(models)} models beat the naive last value"
               + (f": {', '.join(beaten)}" if beaten else "")
               + f"; the best, {best}, has an MAE {abs(margin):.1f}% "
               + ("below" if margin < 0 else "above") + " naive")
    return {"models": models, "baselines": first["baselines"], "split": first["split"],
            "beat_naive": beaten, "best": best, "summary": summary,
            "training": curves, "gradient_flow": flow, "grad_norms": norms,
            "gradient_clip_val": cfg.gradient_clip_val, "attention": attention}


def comparison_table(metrics: dict) -> pd.DataFrame:
    naive = metrics["baselines"]["naive"]["MAE"]
    rows = []
    for name, m in metrics["models"].items():
        rows.append({"forecaster": name, "MAE": m["MAE"], "vs naive %": 100 * (m["MAE"] / naive - 1),
                     "RMSE": m["RMSE"], "MASE": m["MASE"], "parameters": m["parameters"],
                     "seconds": m["seconds"], "best epoch": m["best_epoch"]})
    for name, m in metrics["baselines"].items():
        rows.append({"forecaster": name, "MAE": m["MAE"], "vs naive %": 100 * (m["MAE"] / naive - 1),
                     "RMSE": m["RMSE"], "MASE": m["MASE"]})
    return pd.DataFrame(rows).set_index("forecaster")
