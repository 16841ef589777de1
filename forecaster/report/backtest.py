"""The backtest report: every fold's forecasts, error per fold over time, fold and aggregate tables.

No torch here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from forecaster._io import atomic_write_text
from forecaster.evaluation.tables import vs_naive_label
from forecaster.report.figures import PALETTE
from forecaster.report.page import COLORS, downsample, esc, layout, render_page


def folds_figure(series: pd.DataFrame, forecasts: pd.DataFrame, model: str, unit: str) -> go.Figure:
    target = series.columns[0]
    first = forecasts[(forecasts["step"] == 1) & (forecasts["target"] == target)]
    start = first.index.get_level_values("timestamp").min()
    actual = series[target][series.index >= start - (series.index[-1] - start) / 4]
    actual = downsample(actual)
    fig = go.Figure(go.Scattergl(x=actual.index, y=actual.values, name="actual", mode="lines",
                                 line=dict(color=COLORS["actual"], width=1.4)))
    for i, (fold, f) in enumerate(first.groupby("fold")):
        f = downsample(f.droplevel("cutoff")[model])
        fig.add_trace(go.Scattergl(x=f.index, y=f.values, mode="lines", name=f"fold {fold}",
                                   line=dict(color=PALETTE[i % len(PALETTE)], width=1.2)))
        fig.add_vline(x=f.index[0], line_dash="dot", line_color="#999")
    return layout(fig, f"1-step-ahead forecasts of {esc(model)}, fold by fold (dotted: fold cutoffs)",
                   "time", unit, legend_right=True)


def error_figure(metrics: dict) -> go.Figure:
    folds = metrics["folds"]
    x = [f["cutoff"][:10] for f in folds]
    fig = go.Figure([
        go.Bar(x=x, y=[f["model"]["MAE"] for f in folds], name=esc(metrics["model"]), marker_color=COLORS["model"]),
        go.Bar(x=x, y=[f["naive"]["MAE"] for f in folds], name="naive", marker_color=COLORS["naive"]),
        go.Bar(x=x, y=[f["drift"]["MAE"] for f in folds], name="drift", marker_color=COLORS["drift"]),
    ])
    fig.update_layout(barmode="group")
    return layout(fig, "Test MAE of each fold over time", "fold cutoff", "MAE (original units)")


def tables(metrics: dict) -> str:
    head = "".join(f"<th>{h}</th>" for h in ["fold", "cutoff", "train rows", "test windows",
                                               f"{esc(metrics['model'])} MAE", "naive MAE", "vs naive",
                                               "model MASE", "naive MASE"])
    won = ' class="model"'
    rows = "".join(
        f"<tr{won if f['mae_ratio_to_naive'] < 1 else ''}><td>{f['fold']}</td>"
        f"<td>{f['cutoff'][:16]}</td><td>{f['train_rows']}</td><td>{f['test_windows']}</td>"
        f"<td>{f['model']['MAE']:.4g}</td><td>{f['naive']['MAE']:.4g}</td>"
        f"<td>{vs_naive_label(f['model']['MAE'], f['naive']['MAE'])}</td><td>{f['model']['MASE']:.3f}</td>"
        f"<td>{f['naive']['MASE']:.3f}</td></tr>" for f in metrics["folds"])
    agg = metrics["aggregate"]
    naive = agg["baselines"]["naive"]["MAE"]
    agg_rows = "".join(f"<tr><td>{esc(m['name'])}</td><td>{m['MAE']:.4g}</td><td>{vs_naive_label(m['MAE'], naive)}</td>"
                       f"<td>{m['RMSE']:.4g}</td><td>{m['MASE']:.3f}</td></tr>"
                       for m in [agg["model"], *agg["baselines"].values()])
    html = (f"<h3>All folds together</h3><table><thead><tr><th>forecaster</th><th>MAE</th><th>vs naive</th>"
            f"<th>RMSE</th><th>MASE</th></tr></thead><tbody>{agg_rows}</tbody></table>"
            f"<h3>Each fold</h3><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    da = metrics.get("directional_accuracy")
    if da:
        html += ("<h3>Directional accuracy (sign of the move from the cutoff)</h3><table><thead><tr>"
                 "<th>forecaster</th><th>all steps</th><th>1 step</th><th>last step</th></tr></thead><tbody>"
                 + "".join(f"<tr><td>{name}</td><td>{d['overall']:.1%}</td><td>{d['per_step'][0]:.1%}</td>"
                           f"<td>{d['per_step'][-1]:.1%}</td></tr>"
                           for name, d in (("model", da["model"]), ("drift", da["drift"])))
                 + "<tr><td>coin flip</td><td>50.0%</td><td>50.0%</td><td>50.0%</td></tr></tbody></table>")
    return html


def backtest_figures(series: pd.DataFrame, forecasts: pd.DataFrame, metrics: dict,
                     unit: str) -> dict[str, go.Figure]:
    return {"folds": folds_figure(series, forecasts, metrics["model"], unit), "fold_errors": error_figure(metrics)}


def write_backtest_report(path: str | Path, title: str, series: pd.DataFrame, forecasts: pd.DataFrame,
                          metrics: dict, unit: str) -> Path:
    s = metrics["setup"]
    subtitle = (f"{s['folds']} folds, {s['window']} training window"
                f"{', fine-tuned from fold to fold' if s['fine_tune'] else ', retrained per fold'}; "
                f"lookback {s['lookback']}, horizon {s['horizon']}")
    figs = backtest_figures(series, forecasts, metrics, unit)
    page = render_page(title, subtitle, metrics["verdict"], metrics["mae_ratio_to_naive"] < 1,
                       tables(metrics), figs)
    return atomic_write_text(path, page)
