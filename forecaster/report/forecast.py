"""forecast.html of `forecaster predict`: recent history, the forecast and its bands, per series
and target, and the table. No torch."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from forecaster.report.page import COLORS, CSS, esc, layout

SHOWN_SERIES = 8  # figures drawn for a many-series forecast; the table holds every series


def forecast_figure(history: pd.Series, f: pd.DataFrame, title: str, unit: str) -> go.Figure:
    fig = go.Figure()
    for lvl, alpha in (("95", 0.12), ("80", 0.25)):
        fig.add_trace(go.Scatter(x=[*f.index, *f.index[::-1]], y=[*f[f"upper_{lvl}"], *f[f"lower_{lvl}"][::-1]],
                                 fill="toself", fillcolor=f"rgba(214,39,40,{alpha})", mode="lines",
                                 line=dict(width=0), name=f"{lvl}% interval", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=history.index, y=history, name="observed", mode="lines",
                             line=dict(color=COLORS["actual"], width=1.5)))
    fig.add_trace(go.Scatter(x=[history.index[-1], *f.index], y=[history.iloc[-1], *f["forecast"]],
                             name="forecast", mode="lines+markers", line=dict(color=COLORS["model"])))
    return layout(fig, title, "time", unit)


def forecast_page(title: str, history: dict[str, pd.DataFrame], table: pd.DataFrame,
                  many: bool = False) -> str:
    """forecast.html: by series (`many`: the table has a `series` column) and target."""
    figs = {}
    for name in list(history)[:SHOWN_SERIES]:
        rows = table[table["series"] == name] if many else table
        for target in history[name].columns:
            f = rows[rows["target"] == target]
            label = f"{name}: {target}" if many else target
            figs[f"forecast:{label}"] = forecast_figure(history[name][target], f,
                                                        f"Forecast of {esc(label)}", target)
    lead = ["series"] if many else []
    cells = "".join(
        "<tr>" + "".join(f"<td>{esc(r[c])}</td>" for c in lead)
        + f"<td>{esc(t)}</td><td>{esc(r['target'])}</td><td>{r['forecast']:.5g}</td>"
        f"<td>{r['lower_80']:.5g} to {r['upper_80']:.5g}</td>"
        f"<td>{r['lower_95']:.5g} to {r['upper_95']:.5g}</td></tr>"
        for t, r in table.iterrows())
    head = "".join(f"<th>{h}</th>" for h in [*lead, "timestamp", "target", "forecast", "80% interval",
                                               "95% interval"])
    parts = "".join(f'<div class="figure" id="fig-{esc(n)}">'
                    + fig.to_html(full_html=False, include_plotlyjs=False) + "</div>" for n, fig in figs.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>{CSS}</style><script type="text/javascript">{get_plotlyjs()}</script></head>
<body><h1>{esc(title)}</h1>
<p class="sub">Intervals are split-conformal, calibrated on the validation split at training time.</p>
<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>{parts}</body></html>"""
