"""`fit`: one model on one series or on several, evaluated on each one's test split.

Everything a run produces lands in its run folder: config.yaml (resolved settings),
model.json (the model card: network, transforms, scalers and interval widths, for reloading),
checkpoints/ (best.ckpt, the best epoch, and last.ckpt, the last completed one),
metrics.json, forecasts.csv (every test forecast with its real timestamp) and report.html.
One series gets the flat metrics.json of the README; several get one block per series and
an overall block (`kind` says which).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd

from forecaster._io import atomic_write_text, write_csv, write_csv_parts, write_metrics_json
from forecaster.config import FitConfig, dump_yaml, is_panel
from forecaster.data.panel import Panel
from forecaster.data.select import data_label, unit_label
from forecaster.data.windows import WindowDataModule
from forecaster.evaluation.intervals import Conformal
from forecaster.evaluation.shrink import panel_note
from forecaster.evaluation.tables import PackedBlocks, PanelTable, overall_metrics, panel_forecast_frame, update_verdict
from forecaster.report.fit import write_report
from forecaster.report.panel import SHOWN_SERIES, write_panel_report
from forecaster.runs.folder import check_resumable, claim_run_dir, claimed
from forecaster.runs.pipeline import (SeriesEvaluation, evaluate_series, model_card, network_notes,
                                      prepare_data, train_network, trainer_for, training_info)
from forecaster.runs.results import METRICS_SCHEMA, FitResult


@dataclass
class Lineage:
    """What an updated run (`forecaster update`) carries over from its parent run."""

    parent: str  # the parent's run folder
    state: dict = field(repr=False)  # the parent network's weights: training starts from them
    forecasts: list[np.ndarray] = field(repr=False)  # per series, the parent's (N, H, C) test forecasts
    info: dict = field(default_factory=dict)  # what the update did, for metrics.json `update`


def fit(cfg: FitConfig, progress: bool = True, resume: bool = False) -> FitResult:
    """Train the configured model and write its evaluation and report into the run folder.

    With `resume`, continue the interrupted run in `cfg.out` from its last completed epoch.
    Several series (see `forecaster.config.is_panel`) train one model on all of them.
    """
    run_dir, writer = claim_run_dir(cfg, resume)
    last = check_resumable(run_dir) if resume else None
    trainer = trainer_for(cfg, run_dir, progress)  # bad trainer flags fail before any work
    panel, data = prepare_data(cfg)[1:]  # the frames go (each series keeps its notes in its Prepared)
    with claimed(run_dir, writer, reuse=cfg.overwrite or resume, overwrite=cfg.overwrite and not resume):
        return train_and_write(cfg, run_dir, writer, trainer, panel, data, last)


def train_and_write(cfg: FitConfig, run_dir: Path, writer: bool, trainer: L.Trainer, panel: Panel,
                    data: WindowDataModule, last: Path | None, lineage: Lineage | None = None) -> FitResult:
    """Train, evaluate and (as the writer) write the run into its claimed folder. With a
    `lineage`, training starts from the parent's weights and the parent is judged beside the
    baselines on the test split."""
    many = is_panel(cfg)
    parent = lineage.parent if lineage else None
    if writer:
        atomic_write_text(run_dir / "config.yaml", dump_yaml(cfg))
        model_card(cfg, panel, many=many, parent=parent).write(run_dir / "model.json")
    net = train_network(cfg, cfg.model, panel, data, trainer, resume_from=last,
                        init_state=lineage.state if lineage else None)
    evaluations = evaluate_series(net, panel, data, [{"parent": f} for f in lineage.forecasts]
                                  if lineage else None)
    notes = [f"{name}: {n}" if many else n for name, p in zip(panel.names, panel.prepared)
             for n in p.notes] + network_notes(cfg, cfg.model, panel.first)
    data_block = {"source": data_label(cfg), "kind": panel.first.kind, "series": len(panel.names),
                  "rows": int(panel.offsets[-1]), "inputs": panel.first.input_names, "notes": notes}
    writes = trainer.is_global_zero  # another process (rank 0) writes the run
    if many:
        kept = stream_panel(run_dir / "forecasts.csv" if writes else None, cfg.model, panel, evaluations)
        per_series, conformal, shrinks, forecasts, shown = kept.metrics, kept.conformal, kept.shrinks, None, kept.shown
        notes.extend(filter(None, [panel_note(shrinks)]))
        overall = overall_metrics(per_series)
        metrics = {"schema": METRICS_SCHEMA, "kind": "panel", "series": per_series, "overall": overall,
                   "verdict": overall["verdict"], "mae_ratio_to_naive": overall["mae_ratio_to_naive"]}
    else:
        one = next(evaluations)
        per_series, conformal, shrinks = {one.name: one.metrics}, [one.conformal], [one.shrink.factor]
        notes.extend(filter(None, [one.shrink.note()]))
        metrics = {"schema": METRICS_SCHEMA, "kind": "fit", **one.metrics}
        forecasts = shown = one.forecasts(cfg.model)
    metrics["training"] = training_info(net, data)
    metrics["data"] = data_block
    if lineage:
        verdicts = {name: update_verdict(m) for name, m in per_series.items()}
        metrics["update"] = {"parent": parent, **lineage.info, "verdicts": verdicts}
        notes.insert(0, next(iter(verdicts.values())) if not many else
                     f"updated from {parent}: see each series' comparison with the parent")
    result = FitResult(run_dir=run_dir, config=cfg, kind=metrics["kind"], metrics=metrics,
                       held_forecasts=forecasts, unit=unit_label(cfg, panel.first.target_names),
                       panel=panel, module=net.module, training=net.training)
    if not writes:
        return result
    model_card(cfg, panel, conformal, many, parent, shrinks).write(run_dir / "model.json")
    write_metrics_json(run_dir / "metrics.json", metrics)
    if not many:
        write_csv(run_dir / "forecasts.csv", forecasts)
    write_fit_report(result, shown)
    return result


@dataclass
class PanelKept:
    """What a many-series fit keeps of its evaluations once each series' forecasts are written."""

    metrics: PackedBlocks  # per series, its `evaluate` block
    conformal: list[Conformal]  # per series, its interval widths (for the model card)
    shrinks: list[float]  # per series, its shrink factor (for the model card)
    shown: pd.DataFrame  # the forecasts of the first series, which the report draws


def stream_panel(path: Path | None, model: str, panel: Panel, evaluations: Iterator[SeriesEvaluation]) -> PanelKept:
    """Run `evaluations`, writing each series' test forecasts into forecasts.csv at `path` (None:
    nowhere, on a process other than rank 0) as it is evaluated and keeping only its metrics,
    interval widths and shrink factor, and the forecasts of the first series the report draws: 10,000
    series' forecasts (8.7 million rows) are never all in memory, and their metrics are kept
    as text (`PackedBlocks`)."""
    table = PanelTable.of(panel.names, panel.prepared)
    metrics, conformal, shrinks, shown = PackedBlocks(), [], [], []
    first = next(evaluations)
    forecasters = list(first.columns(model))

    def parts() -> Iterator[list[np.ndarray]]:
        for i, e in enumerate(chain([first], evaluations)):
            metrics.add(e.name, e.metrics)
            conformal.append(e.conformal)
            shrinks.append(e.shrink.factor)
            columns = e.columns(model)
            if i < SHOWN_SERIES:
                shown.append((e.name, e.prepared, columns))
            yield table.part(i, e.prepared, columns)

    if path is None:
        deque(parts(), maxlen=0)
    else:
        write_csv_parts(path, table.header(forecasters), table.levels(forecasters), parts())
    return PanelKept(metrics, conformal, shrinks, panel_forecast_frame(shown))


def write_fit_report(result: FitResult, forecasts: pd.DataFrame) -> None:
    """The run's report.html; `forecasts`: the test forecasts it draws (of a many-series fit,
    the first series')."""
    cfg, p, t = result.config, result.prepared, result.training
    trained = f"trained {t.epochs} epochs (best {t.best_epoch})"
    if result.kind == "panel":
        write_panel_report(result.report, title=f"{data_label(cfg)}: one {cfg.model} for "
                           f"{len(result.panel.names)} series",
                           subtitle=(f"lookback {p.lookback}, horizon {p.horizon}, transform "
                                     f"{p.transform}, per-series scaling, {trained}"),
                           metrics=result.metrics, forecasts=forecasts, unit=result.unit)
        return
    m = result.metrics
    write_report(result.report, title=f"{data_label(cfg)}: {cfg.model} forecast",
                 subtitle=(f"lookback {p.lookback}, horizon {p.horizon}, transform {p.transform}, "
                           f"{m['split']['windows']} test windows, {trained}"),
                 series=result.series, spans=result.spans, forecasts=forecasts, metrics=m,
                 history=result.history, unit=result.unit, notes=m["data"]["notes"])
