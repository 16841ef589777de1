"""The comparison report: every model against the baselines and against each other.

No torch here: everything comes from the comparison's metrics dict and forecast frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from forecaster._io import atomic_write_text
from forecaster.data.frame import Step, parse_step
from forecaster.evaluation.tables import vs_naive_label
from forecaster.report.figures import model_colors, series_figure
from forecaster.report.page import COLORS, drawn, esc, layout, render_page


def overlay_figure(forecasts: pd.DataFrame, models: list[str], target: str, horizon: int,
                   unit: str, freq: Step | None) -> go.Figure:
    """Held-out forecasts of every model over the actual series; legend entries toggle models,
    the buttons choose how many steps ahead."""
    f = forecasts[forecasts["target"] == target]
    colors = model_colors(models)
    steps = sorted({1, horizon})
    fig = go.Figure()
    actual = drawn(f[f["step"] == 1].droplevel("cutoff")["actual"], freq)
    fig.add_trace(go.Scattergl(x=actual.index, y=actual.values, name="actual", mode="lines",
                               line=dict(color=COLORS["actual"], width=1.6)))
    owners = []
    for step in steps:
        s = f[f["step"] == step].droplevel("cutoff")
        for name in [*models, "naive"]:
            line = drawn(s[name], freq)
            fig.add_trace(go.Scattergl(
                x=line.index, y=line.values, mode="lines", name=esc(name), visible=step == steps[0],
                line=dict(color=colors.get(name, COLORS["naive"]), width=1,
                          dash="dash" if name == "naive" else None)))
            owners.append(step)
    buttons = [dict(label=f"{st} step{'s' if st > 1 else ''} ahead", method="update",
                    args=[{"visible": [True] + [o == st for o in owners]}]) for st in steps]
    if len(steps) > 1:
        fig.update_layout(updatemenus=[dict(type="buttons", direction="right", buttons=buttons,
                                            x=1.0, xanchor="right", y=1.02, yanchor="bottom")])
    return layout(fig, f"Held-out forecasts of {esc(target)} (click a legend entry to hide or show it)",
                   "time", unit, legend_right=True)


def curves_figure(metrics: dict) -> go.Figure:
    colors = model_colors(list(metrics["models"]))
    fig = go.Figure()
    for name, c in metrics["training"].items():
        epochs = list(range(1, len(c["val_loss"]) + 1))
        fig.add_trace(go.Scatter(x=epochs, y=c["val_loss"], name=f"{esc(name)} validation",
                                 legendgroup=name, line=dict(color=colors[name])))
        fig.add_trace(go.Scatter(x=epochs, y=c["train_loss"], name=f"{esc(name)} training",
                                 legendgroup=name, line=dict(color=colors[name], dash="dot")))
    losses = [v for c in metrics["training"].values() for v in (*c["train_loss"], *c["val_loss"])]
    fig.update_yaxes(type="log" if min(losses, default=1) > 0 else "linear")  # a Gaussian NLL can be < 0
    longest = max(len(c["val_loss"]) for c in metrics["training"].values())
    fig.update_xaxes(dtick=1 if longest <= 20 else None)  # whole epochs
    return layout(fig, "Training (dotted) and validation (solid) loss", "epoch",
                   "MSE, scaled units (log)", legend_right=True)


def flow_figure(metrics: dict) -> go.Figure:
    colors = model_colors(list(metrics["models"]))
    fig = go.Figure()
    for name, f in metrics["gradient_flow"].items():
        k = list(range(1, len(f["trained"]) + 1))
        fig.add_trace(go.Scatter(x=k, y=f["trained"], name=f"{esc(name)} trained", legendgroup=name,
                                 line=dict(color=colors[name])))
        fig.add_trace(go.Scatter(x=k, y=f["init"], name=f"{esc(name)} at init", legendgroup=name,
                                 line=dict(color=colors[name], dash="dot")))
    fig.update_yaxes(type="log", exponentformat="power")
    return layout(fig, "Gradient flow through time: |d loss / d input| k steps before the cutoff"
                        "<br><sup>solid: trained, dotted: at initialization; a line that stops has "
                        "underflowed to 0 in float32; the path is as long as the recurrent steps of the "
                        "table (segrnn: one per segment)</sup>",
                   "k (steps back from the cutoff)", "gradient norm (log)", legend_right=True)


def grad_norm_figure(metrics: dict) -> go.Figure:
    colors = model_colors(list(metrics["models"]))
    fig = go.Figure()
    for name, norms in metrics["grad_norms"].items():
        fig.add_trace(go.Scattergl(x=np.arange(1, len(norms) + 1), y=norms, name=esc(name),
                                   mode="lines", line=dict(color=colors[name], width=1)))
    clip = metrics.get("gradient_clip_val")
    if clip:
        fig.add_hline(y=clip, line_dash="dash", line_color="#d62728",
                      annotation_text=f"clipping threshold {clip:g}: steps above it were scaled down")
    fig.update_yaxes(type="log")
    return layout(fig, "Gradient norm per training step (before clipping)", "training step",
                   "total gradient norm (log)", legend_right=True)


def attention_figure(name: str, att: dict) -> go.Figure:
    weights = np.asarray(att["weights"])  # (W, H, L)
    n, H, L = weights.shape
    fig = make_subplots(rows=1, cols=n, subplot_titles=[f"cutoff {c[:16]}" for c in att["cutoffs"]],
                        horizontal_spacing=0.05)
    for i in range(n):
        fig.add_trace(go.Heatmap(z=weights[i], x=np.arange(-L + 1, 1), y=np.arange(1, H + 1),
                                 coloraxis="coloraxis"), row=1, col=i + 1)
    fig.update_xaxes(title_text="encoder step (0 = cutoff)")
    fig.update_yaxes(title_text="decoder step", col=1)
    fig.update_yaxes(dtick=1)  # whole forecast steps
    fig.update_layout(coloraxis=dict(colorscale="Viridis", colorbar=dict(title="weight")))
    return layout(fig, f"{esc(name)}: attention of each forecast step over the input window", "", "")


def comparison_html(metrics: dict) -> str:
    naive = metrics["baselines"]["naive"]["MAE"]
    head = "".join(f"<th>{h}</th>" for h in ["forecaster", "MAE", "vs naive", "RMSE", "MASE",
                                               "parameters", "recurrent steps", "training s", "best epoch"])
    rows = []
    for name, m in sorted(metrics["models"].items(), key=lambda kv: kv[1]["MAE"]):
        cls = ' class="model"' if m["mae_ratio_to_naive"] < 1 else ""
        rows.append(f"<tr{cls}><td>{esc(name)}</td><td>{m['MAE']:.4g}</td>"
                    f"<td>{vs_naive_label(m['MAE'], naive)}</td><td>{m['RMSE']:.4g}</td>"
                    f"<td>{m['MASE']:.3f}</td><td>{m['parameters']:,}</td>"
                    f"<td>{m['sequential_steps']}</td><td>{m['seconds']:.1f}</td>"
                    f"<td>{m['best_epoch']} of {m['epochs']}</td></tr>")
    for name, m in metrics["baselines"].items():
        rows.append(f"<tr><td><i>{esc(name)}</i></td><td>{m['MAE']:.4g}</td>"
                    f"<td>{vs_naive_label(m['MAE'], naive)}</td><td>{m['RMSE']:.4g}</td>"
                    f"<td>{m['MASE']:.3f}</td><td></td><td></td><td></td><td></td></tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def compare_figures(series: pd.DataFrame, forecasts: pd.DataFrame, metrics: dict,
                    unit: str) -> dict[str, go.Figure]:
    split = metrics["split"]
    freq = parse_step(split.get("freq"))
    spans = {k: (pd.Timestamp(split[k]["start"]), pd.Timestamp(split[k]["end"]))
             for k in ("train", "val", "test")}
    if series.index.tz is not None:
        spans = {k: tuple(t.tz_localize(series.index.tz) if t.tz is None else t for t in v)
                 for k, v in spans.items()}
    models = list(metrics["models"])
    figs = {"series": series_figure(series, spans, unit, freq)}
    for target in split["targets"]:
        figs[f"overlay:{target}"] = overlay_figure(forecasts, models, target, split["horizon"], unit, freq)
    figs["curves"] = curves_figure(metrics)
    figs["gradient_flow"] = flow_figure(metrics)
    figs["grad_norms"] = grad_norm_figure(metrics)
    for name, att in metrics["attention"].items():
        figs[f"attention:{name}"] = attention_figure(name, att)
    return figs


def write_compare_report(path: str | Path, title: str, series: pd.DataFrame, forecasts: pd.DataFrame,
                         metrics: dict, unit: str, notes: list[str] | None = None) -> Path:
    split = metrics["split"]
    subtitle = (f"same windows, split, scaling and seed for every model: lookback {split['lookback']}, "
                f"horizon {split['horizon']}, transform {split['transform']}, "
                f"{split['windows']} test windows")
    page = render_page(title, subtitle, metrics["verdict"], bool(metrics["beat_naive"]),
                       comparison_html(metrics), compare_figures(series, forecasts, metrics, unit), notes)
    return atomic_write_text(path, page)
