"""`compare`: several networks trained on the same windows, split, scaling and seed.

Writes into one run folder: metrics.json (every model and the baselines, gradient flow
through time before and after training, gradient norms per step, attention weights),
forecasts.csv (every test forecast of every model), config.yaml (with `models`, so that it
reproduces the comparison), one checkpoint folder per model, and report.html.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from forecaster._io import atomic_write, atomic_write_text, metrics_json
from forecaster.config import FitConfig, check_models, compare_models, dump_yaml, single_series
from forecaster.data.panel import Panel
from forecaster.data.windows import WindowDataModule
from forecaster.data.select import data_label, unit_label
from forecaster.evaluation.tables import compare_summary, forecast_frame
from forecaster.nets.build import count_parameters, sequential_steps
from forecaster.report.compare import write_compare_report
from forecaster.runs.folder import claimed, run_dir_for
from forecaster.runs.pipeline import (SeriesEvaluation, TrainedNetwork, evaluate_network, network_notes,
                                      prepare_data, train_network, trainer_for)
from forecaster.runs.results import METRICS_SCHEMA, CompareResult
from forecaster.training.diagnostics import attention_weights

PROBE_WINDOWS = 64  # validation windows the gradient flow is measured on
ATTENTION_WINDOWS = 3  # test windows whose attention maps are kept


def compare(cfg: FitConfig, models: list[str] | tuple[str, ...] | None = None,
            progress: bool = True) -> CompareResult:
    """Train each named network (`models`, else `cfg.models`, else the default family) on
    identical data and write one comparison report."""
    cfg = single_series(replace(cfg, models=check_models(list(models or compare_models(cfg)))), "compare")
    run_dir = run_dir_for(cfg, "compare")
    trainer_for(cfg, run_dir / cfg.models[0], progress=False)  # bad trainer flags fail before any work
    frames, panel, data = prepare_data(cfg)
    p = panel.first
    val = data.dataset("val")
    probe = val[torch.linspace(0, len(val) - 1, min(PROBE_WINDOWS, len(val))).long()]
    picks = np.linspace(0, len(p.starts["test"]) - 1, ATTENTION_WINDOWS).astype(int)
    test_x, _ = data.dataset("test")[torch.from_numpy(picks)]
    with claimed(run_dir, reuse=cfg.overwrite, overwrite=cfg.overwrite):
        return train_and_write(cfg, run_dir, frames, panel, data, (probe, test_x, picks), progress)


def train_and_write(cfg: FitConfig, run_dir: Path, frames: dict, panel: Panel, data: WindowDataModule,
                    probes: tuple, progress: bool) -> CompareResult:
    """Train every model on the same windows and write the comparison into its claimed folder."""
    probe, test_x, picks = probes
    p = panel.first
    atomic_write_text(run_dir / "config.yaml", dump_yaml(cfg))
    nets: dict[str, TrainedNetwork] = {}
    evals: dict[str, SeriesEvaluation] = {}
    for name in cfg.models:
        if progress:
            print(f"\n=== {name} ===", flush=True)
        nets[name] = train_network(replace(cfg, model=name), name, panel, data,
                                   trainer_for(cfg, run_dir / name, progress), probe=probe)
        evals[name] = evaluate_network(nets[name], panel, data)[0]

    metrics = comparison_metrics(cfg, panel, nets, evals, test_x, picks)
    metrics["data"] = {"source": data_label(cfg), "kind": p.kind, "series": 1, "rows": len(p.index),
                       "inputs": p.input_names,
                       "notes": [*next(iter(frames.values())).notes, *p.notes,
                                 *(n for name in cfg.models for n in network_notes(cfg, name, p))]}
    forecasts = forecast_frame(p, {**{n: e.pred for n, e in evals.items()},
                                   **next(iter(evals.values())).baselines}, "test")
    result = CompareResult(run_dir=run_dir, config=cfg, kind="compare", metrics=metrics,
                           forecasts=forecasts, unit=unit_label(cfg, p.target_names), prepared=p,
                           networks=nets)
    atomic_write_text(run_dir / "metrics.json", metrics_json(metrics))
    atomic_write(run_dir / "forecasts.csv", lambda tmp: forecasts.to_csv(tmp))
    write_compare_report(result.report, title=f"{data_label(cfg)}: {len(cfg.models)} networks compared",
                         series=p.target_frame(), forecasts=forecasts, metrics=metrics,
                         unit=result.unit, notes=metrics["data"]["notes"])
    return result


def comparison_metrics(cfg: FitConfig, panel: Panel, nets: dict[str, TrainedNetwork],
                       evals: dict[str, SeriesEvaluation], test_x: torch.Tensor, picks: np.ndarray) -> dict:
    p = panel.first
    first = next(iter(evals.values())).metrics
    cutoffs = p.index[p.cutoffs("test")[picks]]
    models, flow, norms, curves, attention = {}, {}, {}, {}, {}
    for name, net in nets.items():
        t, m = net.training, evals[name].metrics
        models[name] = {**m["model"], "mae_ratio_to_naive": m["mae_ratio_to_naive"],
                        "significance": m["significance"],
                        "parameters": count_parameters(net.module.network),
                        "sequential_steps": sequential_steps(net.module.network, p.lookback),
                        "seconds": round(t.seconds, 2), "epochs": t.epochs, "best_epoch": t.best_epoch,
                        "intervals": m["intervals"]["levels"]}
        flow[name] = {"init": net.flow_init.tolist(), "trained": net.flow_trained.tolist()}
        norms[name] = t.grad_norms
        curves[name] = {"train_loss": t.train_loss, "val_loss": t.val_loss}
        weights = attention_weights(net.module.network, test_x)
        if weights is not None:
            attention[name] = {"cutoffs": [str(c) for c in cutoffs], "weights": weights.tolist()}
    beaten = [n for n, m in models.items() if m["mae_ratio_to_naive"] < 1]
    best = min(models, key=lambda n: models[n]["MAE"])
    return {"schema": METRICS_SCHEMA, "kind": "compare", "models": models,
            "baselines": first["baselines"], "split": first["split"],
            "beat_naive": beaten, "best": best, "mae_ratio_to_naive": models[best]["mae_ratio_to_naive"],
            "verdict": compare_summary(models),
            "training": curves, "gradient_flow": flow, "grad_norms": norms,
            "gradient_clip_val": cfg.gradient_clip_val, "attention": attention}
