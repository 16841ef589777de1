"""The saved report: one self-contained HTML file (plotly.js embedded, works offline).

No torch here: the report reads frames and the metrics dict. Each figure is also available
as a plotly `Figure` (see `figures`) for notebooks.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from plotly.offline import get_plotlyjs

from forecaster._io import atomic_write_text

SPAN_COLORS = {"train": "rgba(99,110,250,0.07)", "val": "rgba(255,161,90,0.15)",
               "test": "rgba(0,204,150,0.15)"}
SPAN_NAMES = {"train": "train", "val": "validation", "test": "test (held out)"}
COLORS = {"actual": "#222222", "model": "#d62728", "naive": "#1f77b4",
          "seasonal_naive": "#9467bd", "drift": "#8c564b"}


def esc(text: object) -> str:
    """Escape a string that came from data before it reaches HTML or a plotly label."""
    return html.escape(str(text), quote=True)


def _layout(fig: go.Figure, title: str, x: str, y: str, legend_right: bool = False) -> go.Figure:
    """Shared look. Figures with many traces put their legend at the right, not over the title."""
    legend = (dict(orientation="v", yanchor="top", y=1.0, x=1.01, xanchor="left") if legend_right
              else dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=esc(y), template="plotly_white",
                      height=460 if legend_right else 420, margin=dict(l=70, r=20, t=60, b=50),
                      legend=legend)
    return fig


MAX_POINTS = 4000  # per drawn line; metrics always use every point


def downsample(values: pd.Series, max_points: int = MAX_POINTS) -> pd.Series:
    """Min-max downsampling for drawing: per bucket keep the lowest and the highest point, so
    peaks survive; NaN gap markers are kept. A series this short is returned as is."""
    if len(values) <= max_points:
        return values
    y = values.to_numpy(dtype="float64")
    n_buckets = max_points // 2
    edges = np.linspace(0, len(y), n_buckets + 1).astype(int)
    keep = [np.flatnonzero(np.isnan(y))]
    for a, b in zip(edges[:-1], edges[1:]):
        chunk = y[a:b]
        if b > a and not np.isnan(chunk).all():
            keep.append(np.array([a + np.nanargmin(chunk), a + np.nanargmax(chunk)]))
    return values.iloc[np.unique(np.concatenate(keep))]


def drawn(values: pd.Series, freq: pd.Timedelta | None) -> pd.Series:
    """What a line trace draws: gaps broken, then downsampled."""
    return downsample(break_gaps(values, freq))


def break_gaps(values: pd.Series, freq: pd.Timedelta | None) -> pd.Series:
    """Insert a NaN inside every step longer than `freq`, so lines break at dropped gaps of a
    sensor log instead of bridging them. Prices (`freq` None) have no gaps to break."""
    if freq is None or len(values) < 2:
        return values
    steps = np.diff(values.index.as_unit("ns").asi8)  # nanoseconds, like Timedelta.value
    jumps = np.flatnonzero(steps > freq.value)
    if len(jumps) == 0:
        return values
    mids = values.index[jumps] + (values.index[jumps + 1] - values.index[jumps]) / 2
    return pd.concat([values, pd.Series(np.nan, index=mids)]).sort_index()


def series_figure(series: pd.DataFrame, spans: dict, unit: str,
                  freq: pd.Timedelta | None = None) -> go.Figure:
    """The whole series with the train, validation and test spans shaded."""
    fig = go.Figure()
    for col in series.columns:
        line = drawn(series[col], freq)
        fig.add_trace(go.Scattergl(x=line.index, y=line.values, name=esc(col), mode="lines",
                                   line=dict(width=1)))
    for split, (start, end) in spans.items():
        fig.add_vrect(x0=start, x1=end, fillcolor=SPAN_COLORS[split], line_width=0,
                      annotation_text=SPAN_NAMES[split], annotation_position="top left")
    return _layout(fig, "Series and chronological split", "time", unit)


def forecast_figure(forecasts: pd.DataFrame, model: str, target: str, horizon: int,
                    unit: str, freq: pd.Timedelta | None = None) -> go.Figure:
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
    return _layout(fig, f"Held-out test forecasts of {esc(target)}", "time", unit)


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
    _layout(fig, f"Full-horizon forecasts from {len(picks)} test cutoffs", "", "")
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
    return _layout(fig, "Interval calibration on the test split (above the line: too wide)",
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
    return _layout(fig, "Test MAE by forecast step", "steps ahead", "MAE (original units)")


def loss_figure(train_loss: list[float], val_loss: list[float], best_epoch: int) -> go.Figure:
    epochs = list(range(1, len(train_loss) + 1))
    fig = go.Figure([go.Scatter(x=epochs, y=train_loss, name="training loss", mode="lines+markers"),
                     go.Scatter(x=epochs, y=val_loss, name="validation loss", mode="lines+markers")])
    if best_epoch:
        fig.add_vline(x=best_epoch, line_dash="dot", annotation_text="best (checkpoint kept)")
    positive = min([*train_loss, *val_loss], default=1) > 0  # a Gaussian NLL can be negative
    fig.update_yaxes(type="log" if positive else "linear")
    fig.update_xaxes(dtick=1 if len(epochs) <= 20 else None)  # whole epochs
    return _layout(fig, "Training and validation loss (scaled units)", "epoch",
                   "loss (log scale)" if positive else "loss")


def metrics_table(metrics: dict) -> str:
    """HTML table: model first, then baselines, each with its MAE relative to naive."""
    naive = metrics["baselines"]["naive"]["MAE"]
    rows = [metrics["model"], *metrics["baselines"].values()]
    head = "".join(f"<th>{h}</th>" for h in ["forecaster", "MAE", "vs naive", "RMSE", "sMAPE %", "MASE"])
    body = []
    for i, m in enumerate(rows):
        rel = 100 * (m["MAE"] / naive - 1)
        cls = ' class="model"' if i == 0 else ""
        body.append(f"<tr{cls}><td>{esc(m['name'])}</td><td>{m['MAE']:.4g}</td><td>{rel:+.1f}%</td>"
                    f"<td>{m['RMSE']:.4g}</td><td>{m['sMAPE']:.3g}</td><td>{m['MASE']:.3f}</td></tr>")
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return table + intervals_table(metrics)


def intervals_table(metrics: dict) -> str:
    """Empirical coverage and mean width of the 80% and 95% intervals on the test split."""
    iv = metrics.get("intervals")
    if not iv:
        return ""
    rows = []
    for method, block in (("split-conformal", iv["levels"]), ("Gaussian head", iv.get("gaussian"))):
        for lvl, m in (block or {}).items():
            rows.append(f"<tr><td>{method}</td><td>{float(lvl):.0%}</td><td>{m['coverage']:.1%}</td>"
                        f"<td>{m['mean_width']:.4g}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ["prediction interval", "nominal", "test coverage", "mean width"])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def figures(series: pd.DataFrame, spans: dict, forecasts: pd.DataFrame, metrics: dict,
            history: dict, unit: str = "value") -> dict[str, go.Figure]:
    """Every report figure by name, as plotly Figures."""
    model = metrics["model"]["name"]
    split = metrics["split"]
    freq = pd.Timedelta(split["freq"]) if split.get("freq") else None
    figs = {"series": series_figure(series, spans, unit, freq)}
    for target in split["targets"]:
        figs[f"forecast:{target}"] = forecast_figure(forecasts, model, target, split["horizon"],
                                                     unit, freq)
        figs[f"fans:{target}"] = fan_figure(forecasts, series[target], model, target,
                                            split["lookback"], unit)
    figs["per_step"] = step_figure(metrics)
    if "intervals" in metrics:
        figs["calibration"] = calibration_figure(metrics)
    figs["loss"] = loss_figure(history["train_loss"], history["val_loss"], history["best_epoch"])
    return figs


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:1.5em;margin-bottom:4px} .sub{color:#666;margin-top:0}
.verdict{font-size:1.15em;padding:10px 14px;border-radius:6px;margin:16px 0}
.win{background:#e8f6ee;border-left:5px solid #2ca02c} .loss{background:#fdecea;border-left:5px solid #d62728}
table{border-collapse:collapse;margin:8px 0 20px} th,td{padding:6px 12px;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left} tr.model td{font-weight:600;background:#fafafa}
.figure{margin:12px 0 28px} .notes{color:#555;font-size:.92em}
"""


def render_page(title: str, subtitle: str, verdict: str, good: bool, table_html: str,
                figs: dict[str, go.Figure], notes: list[str] | None = None) -> str:
    """One self-contained HTML page: plotly.js inlined once, then the verdict, table, figures."""
    parts = [f'<div class="figure" id="fig-{esc(name)}">'
             + fig.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True})
             + "</div>" for name, fig in figs.items()]
    note_html = "".join(f"<li>{esc(n)}</li>" for n in (notes or []))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>{CSS}</style><script type="text/javascript">{get_plotlyjs()}</script></head>
<body><h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p>
<div class="verdict {'win' if good else 'loss'}">{esc(verdict)}.</div>
<h2>Test-split metrics (original units)</h2>{table_html}
<p class="notes">MASE divides MAE by the in-sample MAE of the one-step naive forecast on the
training rows. Baselines use only data up to each cutoff.</p>
{''.join(parts)}
<ul class="notes">{note_html}</ul></body></html>"""


def write_report(path: str | Path, title: str, subtitle: str, series: pd.DataFrame, spans: dict,
                 forecasts: pd.DataFrame, metrics: dict, history: dict, unit: str = "value",
                 notes: list[str] | None = None) -> Path:
    """Write the self-contained report.html of one model (atomically) and return its path."""
    figs = figures(series, spans, forecasts, metrics, history, unit)
    page = render_page(title, subtitle, metrics["verdict"], metrics["mae_ratio_to_naive"] < 1,
                       metrics_table(metrics), figs, notes)
    return atomic_write_text(path, page)


def forecast_page(title: str, history: pd.DataFrame, table: pd.DataFrame) -> str:
    """forecast.html: recent history, the forecast and its 80% and 95% bands, and the table."""
    figs = {}
    for target in history.columns:
        f = table[table["target"] == target]
        fig = go.Figure()
        for lvl, alpha in (("95", 0.12), ("80", 0.25)):
            fig.add_trace(go.Scatter(x=[*f.index, *f.index[::-1]], y=[*f[f"upper_{lvl}"], *f[f"lower_{lvl}"][::-1]],
                                     fill="toself", fillcolor=f"rgba(214,39,40,{alpha})", mode="lines",
                                     line=dict(width=0), name=f"{lvl}% interval", hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=history.index, y=history[target], name="observed", mode="lines",
                                 line=dict(color=COLORS["actual"], width=1.5)))
        fig.add_trace(go.Scatter(x=[history.index[-1], *f.index], y=[history[target].iloc[-1], *f["forecast"]],
                                 name="forecast", mode="lines+markers", line=dict(color=COLORS["model"])))
        figs[f"forecast:{target}"] = _layout(fig, f"Forecast of {esc(target)}", "time", target)
    rows = "".join(f"<tr><td>{esc(t)}</td><td>{esc(r['target'])}</td><td>{r['forecast']:.5g}</td>"
                   f"<td>{r['lower_80']:.5g} to {r['upper_80']:.5g}</td>"
                   f"<td>{r['lower_95']:.5g} to {r['upper_95']:.5g}</td></tr>"
                   for t, r in table.iterrows())
    head = "".join(f"<th>{h}</th>" for h in ["timestamp", "target", "forecast", "80% interval", "95% interval"])
    parts = "".join(f'<div class="figure" id="fig-{esc(n)}">'
                    + fig.to_html(full_html=False, include_plotlyjs=False) + "</div>" for n, fig in figs.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>{CSS}</style><script type="text/javascript">{get_plotlyjs()}</script></head>
<body><h1>{esc(title)}</h1>
<p class="sub">Intervals are split-conformal, calibrated on the validation split at training time.</p>
<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{parts}</body></html>"""
