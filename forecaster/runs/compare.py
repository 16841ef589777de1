"""`compare`: several networks trained on the same windows, split, scaling and seed.

Writes into one run folder: metrics.json (every model and the baselines, gradient flow
through time before and after training, gradient norms per step, attention weights),
forecasts.csv (every test forecast of every model), config.yaml (with `models`, so that it
reproduces the comparison), one checkpoint folder per model, and report.html.

With `ablate_future`, each model is also trained without its known-future inputs (as
`<model>-no-future`: the future feature columns become past features, seen up to the cutoff
only, and the holiday flag is dropped) on the same windows, and metrics.json `ablation` says,
per model, whether knowing the future made a significant difference.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from forecaster._io import atomic_write_text, write_csv, write_metrics_json
from forecaster.errors import DataError
from forecaster.config import FitConfig, check_models, compare_models, dump_yaml, single_series
from forecaster.data.panel import Panel
from forecaster.data.windows import Batch, WindowDataModule
from forecaster.data.select import data_label, unit_label
from forecaster.evaluation.baselines import BASELINES
from forecaster.evaluation.tables import compare_summary, forecast_frame, versus_verdict
from forecaster.nets.build import count_parameters, sequential_steps
from forecaster.report.compare import write_compare_report
from forecaster.runs.folder import claimed, run_dir_for
from forecaster.runs.pipeline import (SeriesEvaluation, TrainedNetwork, evaluate_network, network_notes,
                                      prepare_data, train_network, trainer_for)
from forecaster.runs.results import METRICS_SCHEMA, CompareResult
from forecaster.training.diagnostics import attention_weights

PROBE_WINDOWS = 64  # validation windows the gradient flow is measured on
ATTENTION_WINDOWS = 3  # test windows whose attention maps are kept
NO_FUTURE = "-no-future"  # the name suffix of a model trained without its known-future inputs


@dataclass
class Arm:
    """The data a model is trained on (the run's, or the same without its known-future
    inputs) and the windows its diagnostics look at."""

    cfg: FitConfig
    frames: dict
    panel: Panel
    data: WindowDataModule
    picks: np.ndarray  # test windows whose attention maps are kept

    def probe(self) -> Batch:
        """Validation windows the gradient flow is measured on."""
        val = self.data.dataset("val")
        return val[torch.linspace(0, len(val) - 1, min(PROBE_WINDOWS, len(val))).long()]

    def test_windows(self) -> Batch:
        return self.data.dataset("test")[torch.from_numpy(self.picks)]


def arm(cfg: FitConfig, frames: dict | None = None) -> Arm:
    frames, panel, data = prepare_data(cfg, frames)
    picks = np.linspace(0, len(panel.first.starts["test"]) - 1, ATTENTION_WINDOWS).astype(int)
    return Arm(cfg, frames, panel, data, picks)


def without_future(main: Arm) -> Arm:
    """The same series and settings without known-future inputs: the future feature columns
    stay as past features (seen up to each cutoff), the holiday flag goes. Refused where that
    changes the test windows, so that the two are judged on the same windows."""
    cfg = replace(main.cfg, future_features=None, holidays=None, ablate_future=False)
    plain = arm(cfg, {name: replace(f, future=[]) for name, f in main.frames.items()})
    if not np.array_equal(plain.panel.first.cutoffs("test"), main.panel.first.cutoffs("test")):
        raise DataError("without its future features the series has other test windows; compare the two "
                        "with a pair of `forecaster fit` runs instead (see the README)")
    return plain


def compare(cfg: FitConfig, models: list[str] | tuple[str, ...] | None = None,
            progress: bool = True) -> CompareResult:
    """Train each named network (`models`, else `cfg.models`, else the default family) on
    identical data and write one comparison report; with `cfg.ablate_future`, each also
    without its known-future inputs."""
    cfg = single_series(replace(cfg, models=check_models(list(models or compare_models(cfg)))), "compare")
    run_dir = run_dir_for(cfg, "compare")
    trainer_for(cfg, run_dir / cfg.models[0], progress=False)  # bad trainer flags fail before any work
    main = arm(cfg)
    plain = without_future(main) if cfg.ablate_future else None
    with claimed(run_dir, reuse=cfg.overwrite, overwrite=cfg.overwrite):
        return train_and_write(cfg, run_dir, main, plain, progress)


def train_and_write(cfg: FitConfig, run_dir: Path, main: Arm, plain: Arm | None,
                    progress: bool) -> CompareResult:
    """Train every model on the same windows and write the comparison into its claimed folder.
    With a `plain` arm, each model is trained on it first, as `<model>-no-future`, and the
    model with its future inputs is then judged against it beside the baselines."""
    panel, p = main.panel, main.panel.first
    atomic_write_text(run_dir / "config.yaml", dump_yaml(cfg))
    nets: dict[str, TrainedNetwork] = {}
    evals: dict[str, SeriesEvaluation] = {}
    arms: dict[str, Arm] = {}
    ablation: dict[str, dict] = {}
    for name in cfg.models:
        ablated = name + NO_FUTURE
        for label, a in ([(ablated, plain)] if plain else []) + [(name, main)]:
            if progress:
                print(f"\n=== {label} ===", flush=True)
            net = train_network(replace(a.cfg, model=name), name, a.panel, a.data,
                                trainer_for(cfg, run_dir / label, progress), probe=a.probe())
            nets[label], arms[label] = replace(net, name=label), a
            reference = [{ablated: evals[ablated].pred}] if plain and label == name else None
            evals[label] = evaluate_network(nets[label], a.panel, a.data, reference)[0]
        if plain:
            ablation[name] = ablation_block(evals[name].metrics, ablated, p.future_names)

    metrics = comparison_metrics(cfg, panel, nets, evals, arms)
    if ablation:
        metrics["ablation"] = ablation
    metrics["data"] = {"source": data_label(cfg), "kind": p.kind, "series": 1, "rows": len(p.index),
                       "inputs": p.input_names,
                       "notes": [*p.notes,
                                 *(n for name in cfg.models for n in network_notes(cfg, name, p))]}
    baselines = {k: f for k, f in next(iter(evals.values())).baselines.items() if k in BASELINES}
    forecasts = forecast_frame(p, {**{n: e.pred for n, e in evals.items()}, **baselines}, "test")
    result = CompareResult(run_dir=run_dir, config=cfg, kind="compare", metrics=metrics,
                           held_forecasts=forecasts, unit=unit_label(cfg, p.target_names), prepared=p,
                           networks=nets)
    write_metrics_json(run_dir / "metrics.json", metrics)
    write_csv(run_dir / "forecasts.csv", forecasts)
    ablated = " with and without their future inputs" if ablation else ""
    write_compare_report(result.report, title=f"{data_label(cfg)}: {len(cfg.models)} networks compared{ablated}",
                         series=p.target_frame(), forecasts=forecasts, metrics=metrics, unit=result.unit,
                         notes=[*(a["verdict"] for a in ablation.values()), *metrics["data"]["notes"]])
    return result


def ablation_block(metrics: dict, ablated: str, future: list[str]) -> dict:
    """metrics.json `ablation` of one model: its MAE with and without its known-future inputs,
    the Diebold-Mariano test of the difference and the sentence saying it."""
    model, without = metrics["model"], metrics["baselines"][ablated]
    subject = (f"{model['name']} with its future inputs ({', '.join(future)}) against {ablated} on the "
               f"{metrics['split']['windows']} test windows")
    return {"without": ablated, "future": future, "MAE": model["MAE"], "MAE_without": without["MAE"],
            "mae_ratio": model["MAE"] / without["MAE"], "significance": metrics["significance"][ablated],
            "verdict": versus_verdict(metrics, ablated, subject)}


def comparison_metrics(cfg: FitConfig, panel: Panel, nets: dict[str, TrainedNetwork],
                       evals: dict[str, SeriesEvaluation], arms: dict[str, Arm]) -> dict:
    p = panel.first
    first = next(iter(evals.values())).metrics
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
        windows = arms[name].test_windows()
        weights = attention_weights(net.module.network, windows.x, windows.future)
        if weights is not None:
            cutoffs = p.index[p.cutoffs("test")[arms[name].picks]]
            attention[name] = {"cutoffs": [str(c) for c in cutoffs], "weights": weights.tolist()}
    beaten = [n for n, m in models.items() if m["mae_ratio_to_naive"] < 1]
    best = min(models, key=lambda n: models[n]["MAE"])
    return {"schema": METRICS_SCHEMA, "kind": "compare", "models": models,
            "baselines": {k: v for k, v in first["baselines"].items() if k in BASELINES}, "split": first["split"],
            "beat_naive": beaten, "best": best, "mae_ratio_to_naive": models[best]["mae_ratio_to_naive"],
            "verdict": compare_summary(models),
            "training": curves, "gradient_flow": flow, "grad_norms": norms,
            "gradient_clip_val": cfg.gradient_clip_val, "attention": attention}
