"""The report of one model trained on many series: overall verdict, per-series table, the
MAE ratio to naive of every series, and held-out forecasts of the first few series.

No torch here: it reads the metrics dict and the forecasts frame.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from forecaster._io import atomic_write_text
from forecaster.data.frame import parse_step
from forecaster.evaluation.tables import vs_naive, vs_naive_label
from forecaster.report.figures import forecast_figure, loss_figure
from forecaster.report.page import esc, layout, render_page

SHOWN_SERIES = 4  # forecast figures drawn; every series is in the table and metrics.json
TABLE_ROWS = 100  # per-series rows in the page


def overall_table(metrics: dict) -> str:
    o = metrics["overall"]
    model = ' class="model"'
    rows = "".join(f"<tr{model if i == 0 else ''}><td>{esc(name)}</td><td>{mase:.3f}</td></tr>"
                   for i, (name, mase) in enumerate(o["mean_MASE"].items()))
    return (f"<p>{o['beats_naive']} of {o['series']} series beat the naive last value; geometric "
            f"mean MAE ratio to naive {o['mae_ratio_to_naive']:.3f}, median {o['mae_ratio_median']:.3f}.</p>"
            f"<table><thead><tr><th>forecaster</th><th>mean MASE over series</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def series_table(metrics: dict) -> str:
    head = "".join(f"<th>{h}</th>" for h in ["series", "test windows", "MAE", "naive MAE", "vs naive", "MASE"])
    series = metrics["series"]  # read block by block: 10,000 blocks are never all decoded at once
    body = "".join(
        f"<tr><td>{esc(name)}</td><td>{m['split']['windows']:,}</td><td>{m['model']['MAE']:.4g}</td>"
        f"<td>{m['baselines']['naive']['MAE']:.4g}</td><td>{vs_naive_label(m['model']['MAE'], m['baselines']['naive']['MAE'])}</td>"
        f"<td>{m['model']['MASE']:.3f}</td></tr>" for name, m in islice(series.items(), TABLE_ROWS))
    more = (f"<p class=\"notes\">First {TABLE_ROWS} of {len(series)} series; metrics.json holds all.</p>"
            if len(series) > TABLE_ROWS else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def ratio_figure(metrics: dict) -> go.Figure:
    """Each series' model MAE relative to naive: bars for a few series, a histogram for many."""
    names = list(metrics["series"])
    pct = np.array([vs_naive(m["model"]["MAE"], m["baselines"]["naive"]["MAE"]) for m in metrics["series"].values()])
    if len(names) <= 40:
        colors = ["#2ca02c" if v < 0 else "#d62728" for v in pct]
        fig = go.Figure(go.Bar(x=[esc(n) for n in names], y=pct, marker_color=colors))
        return layout(fig, "Model MAE against naive, per series (below 0: better)", "series", "vs naive %")
    fig = go.Figure(go.Histogram(x=pct, nbinsx=40, marker_color="#636efa"))
    fig.add_vline(x=0, line_dash="dot", annotation_text="naive")
    return layout(fig, f"Model MAE against naive over {len(names)} series (left of 0: better)",
                   "vs naive %", "series")


def panel_figures(metrics: dict, forecasts: pd.DataFrame, unit: str) -> dict[str, go.Figure]:
    model = metrics["overall"]["model"]
    figs = {"ratios": ratio_figure(metrics)}
    for name in islice(metrics["series"], SHOWN_SERIES):
        split = metrics["series"][name]["split"]
        freq = parse_step(split.get("freq"))
        f = forecasts.xs(name, level="series")
        for target in split["targets"]:
            fig = forecast_figure(f, model, target, split["horizon"], unit, freq)
            fig.update_layout(title=f"{esc(name)}: held-out test forecasts of {esc(target)}")
            figs[f"forecast:{name}:{target}"] = fig
    t = metrics["training"]
    figs["loss"] = loss_figure(t["train_loss"], t["val_loss"], t["best_epoch"])
    return figs


def write_panel_report(path: str | Path, title: str, subtitle: str, metrics: dict,
                       forecasts: pd.DataFrame, unit: str = "value") -> Path:
    """Write report.html of a many-series run (atomically) and return its path."""
    o = metrics["overall"]
    page = render_page(title, subtitle, o["verdict"], o["mae_ratio_to_naive"] < 1,
                       overall_table(metrics) + series_table(metrics),
                       panel_figures(metrics, forecasts, unit), metrics["data"]["notes"])
    return atomic_write_text(path, page)
