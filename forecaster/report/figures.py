"""Figures shared by the reports of every run kind. No torch.

`metrics` arguments are the blocks of metrics.json (see README); frames are the forecasts
frame of `forecaster.evaluation.tables.forecast_frame`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from forecaster.data.frame import Step
from forecaster.report.page import COLORS, SPAN_COLORS, SPAN_NAMES, drawn, esc, layout

PALETTE = qualitative.D3 + qualitative.Set2


def model_colors(names: list[str]) -> dict[str, str]:
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def series_figure(series: pd.DataFrame, spans: dict, unit: str,
                  freq: Step | None = None) -> go.Figure:
    """The whole series with the train, validation and test spans shaded."""
    fig = go.Figure()
    for col in series.columns:
        line = drawn(series[col], freq)
        fig.add_trace(go.Scattergl(x=line.index, y=line.values, name=esc(col), mode="lines",
                                   line=dict(width=1)))
    for split, (start, end) in spans.items():
        fig.add_vrect(x0=start, x1=end, fillcolor=SPAN_COLORS[split], line_width=0,
                      annotation_text=SPAN_NAMES[split], annotation_position="top left")
    return layout(fig, "Series and chronological split", "time", unit)


def forecast_figure(forecasts: pd.DataFrame, model: str, target: str, horizon: int,
                    unit: str, freq: Step | None = None) -> go.Figure:
    """Held-out forecasts against the actual values, 1 step and H steps ahead."""
    f = forecasts[forecasts["target"] == target]
    fig = go.Figure()
    first = f[f["step"] == 1].droplevel("cutoff")
    actual = drawn(first["actual"], freq)
    fig.add_trace(go.Scattergl(x=actual.index, y=actual.values, name="actual", mode="lines",
                               line=dict(color=COLORS["actual"], width=1.5)))
    for step, dash in ((1, None), (horizon, "dot")):
        s = f[f["step"] == step].droplevel("cutoff")
        line = drawn(s[model], freq)
        fig.add_trace(go.Scattergl(x=line.index, y=line.values, mode="lines",
                                   name=f"{esc(model)}, {step} step{'s' if step > 1 else ''} ahead",
                                   line=dict(color=COLORS["model"], width=1, dash=dash)))
        if step == horizon and horizon > 1:
            naive = drawn(s["naive"], freq)
            fig.add_trace(go.Scattergl(x=naive.index, y=naive.values, mode="lines", visible="legendonly",
                                       name=f"naive, {step} steps ahead",
                                       line=dict(color=COLORS["naive"], width=1, dash=dash)))
        if "parent" in s.columns:  # an updated model's parent, on the rows it never saw
            parent = drawn(s["parent"], freq)
            fig.add_trace(go.Scattergl(x=parent.index, y=parent.values, mode="lines",
                                       name=f"parent, {step} step{'s' if step > 1 else ''} ahead",
                                       line=dict(color=COLORS["parent"], width=1, dash=dash)))
    return layout(fig, f"Held-out test forecasts of {esc(target)}", "time", unit)


def fan_figure(forecasts: pd.DataFrame, history: pd.Series, model: str, target: str,
               lookback: int, unit: str, n: int = 6) -> go.Figure:
    """Small multiples: from evenly spaced test cutoffs, the recent history, the actual future,
    and the model's and the naive full-horizon forecasts."""
    f = forecasts[forecasts["target"] == target]
    cutoffs = f.index.get_level_values("cutoff").unique()
    picks = cutoffs[np.linspace(0, len(cutoffs) - 1, min(n, len(cutoffs))).astype(int)]
    cols = min(3, len(picks))
    rows = int(np.ceil(len(picks) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"cutoff {c:%Y-%m-%d %H:%M}".removesuffix(" 00:00")
                                                              for c in picks],
                        horizontal_spacing=0.06, vertical_spacing=0.14)
    context_len = max(3 * f["step"].max(), min(lookback, 60))
    for i, c in enumerate(picks):
        r, k = i // cols + 1, i % cols + 1
        path = f.xs(c, level="cutoff")
        at = history.index.get_loc(c)
        past = history.iloc[max(at - context_len + 1, 0): at + 1]
        future = history.loc[path.index]
        traces = []
        for lvl, alpha in (("95", 0.12), ("80", 0.22)):
            if f"lower_{lvl}" in path:
                traces.append(go.Scatter(
                    x=[*path.index, *path.index[::-1]], y=[*path[f"upper_{lvl}"], *path[f"lower_{lvl}"][::-1]],
                    fill="toself", fillcolor=f"rgba(214,39,40,{alpha})", line=dict(width=0), mode="lines",
                    name=f"{lvl}% interval", hoverinfo="skip"))
        traces += [
            go.Scatter(x=past.index, y=past.values, name="history", mode="lines",
                       line=dict(color="#888", width=1.2)),
            go.Scatter(x=[c, *future.index], y=[past.iloc[-1], *future.values], name="actual",
                       line=dict(color=COLORS["actual"], width=1.8)),
            go.Scatter(x=[c, *path.index], y=[past.iloc[-1], *path[model]], name=esc(model),
                       mode="lines+markers", marker=dict(size=4),
                       line=dict(color=COLORS["model"], width=1.8)),
            go.Scatter(x=[c, *path.index], y=[past.iloc[-1], *path["naive"]], name="naive",
                       line=dict(color=COLORS["naive"], width=1.5, dash="dash")),
        ]
        for tr in traces:
            tr.update(legendgroup=tr.name, showlegend=i == 0)
            fig.add_trace(tr, row=r, col=k)
    fig.update_xaxes(nticks=4)
    layout(fig, f"Full-horizon forecasts from {len(picks)} test cutoffs", "", "")
    fig.update_yaxes(title_text=unit, col=1)
    fig.update_layout(height=300 * rows + 80,
                      legend=dict(orientation="v", yanchor="top", y=1.0, x=1.01, xanchor="left"))
    return fig


def calibration_figure(metrics: dict) -> go.Figure:
    """Nominal against empirical coverage of the intervals on the test split."""
    rows = metrics["intervals"]["calibration"]
    nominal = [r["nominal"] for r in rows]
    fig = go.Figure(go.Scatter(x=[0.45, 1], y=[0.45, 1], mode="lines", name="perfect calibration",
                               line=dict(color="#999", dash="dash")))
    fig.add_trace(go.Scatter(x=nominal, y=[r["conformal"] for r in rows], mode="lines+markers",
                             name="split-conformal", line=dict(color=COLORS["model"])))
    if "gaussian" in rows[0]:
        fig.add_trace(go.Scatter(x=nominal, y=[r["gaussian"] for r in rows], mode="lines+markers",
                                 name="Gaussian head", line=dict(color=COLORS["naive"])))
    fig.update_xaxes(tickformat=".0%")
    fig.update_yaxes(tickformat=".0%")
    return layout(fig, "Interval calibration on the test split (above the line: too wide)",
                   "nominal coverage", "share of actual values inside")


def step_figure(metrics: dict) -> go.Figure:
    """MAE per horizon step: the model against each baseline."""
    fig = go.Figure()
    rows = [("model", metrics["model"])] + list(metrics["baselines"].items())
    for key, m in rows:
        steps = list(range(1, len(m["per_step"]["MAE"]) + 1))
        fig.add_trace(go.Scatter(x=steps, y=m["per_step"]["MAE"], name=esc(m["name"]),
                                 mode="lines+markers",
                                 line=dict(color=COLORS.get(key, "#444"), dash=None if key == "model" else "dash")))
    fig.update_xaxes(dtick=1)
    return layout(fig, "Test MAE by forecast step", "steps ahead", "MAE (original units)")


def loss_figure(train_loss: list[float], val_loss: list[float], best_epoch: int) -> go.Figure:
    epochs = list(range(1, len(train_loss) + 1))
    fig = go.Figure([go.Scatter(x=epochs, y=train_loss, name="training loss", mode="lines+markers"),
                     go.Scatter(x=epochs, y=val_loss, name="validation loss", mode="lines+markers")])
    if best_epoch:
        fig.add_vline(x=best_epoch, line_dash="dot", annotation_text="best (checkpoint kept)")
    positive = min([*train_loss, *val_loss], default=1) > 0  # a Gaussian NLL can be negative
    fig.update_yaxes(type="log" if positive else "linear")
    fig.update_xaxes(dtick=1 if len(epochs) <= 20 else None)  # whole epochs
    return layout(fig, "Training and validation loss (scaled units)", "epoch",
                   "loss (log scale)" if positive else "loss")
