"""The page skeleton every report shares: one self-contained HTML file (plotly.js inlined
once, works offline), the shared look of figures, escaping and downsampling. No torch.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from forecaster.data.frame import Step, shifted

SPAN_COLORS = {"train": "rgba(99,110,250,0.07)", "val": "rgba(255,161,90,0.15)",
               "test": "rgba(0,204,150,0.15)"}
SPAN_NAMES = {"train": "train", "val": "validation", "test": "test (held out)"}
COLORS = {"actual": "#222222", "model": "#d62728", "naive": "#1f77b4",
          "seasonal_naive": "#9467bd", "drift": "#8c564b", "parent": "#7f7f7f"}


def esc(text: object) -> str:
    """Escape a string that came from data before it reaches HTML or a plotly label."""
    return html.escape(str(text), quote=True)


def layout(fig: go.Figure, title: str, x: str, y: str, legend_right: bool = False) -> go.Figure:
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


def drawn(values: pd.Series, freq: Step | None) -> pd.Series:
    """What a line trace draws: gaps broken, then downsampled."""
    return downsample(break_gaps(values, freq))


def break_gaps(values: pd.Series, freq: Step | None) -> pd.Series:
    """Insert a NaN inside every step longer than `freq` (a Timedelta, or a calendar offset:
    a step past the next month start), so lines break at dropped gaps of a sensor log instead of
    bridging them. Prices (`freq` None) have no gaps to break."""
    if freq is None or len(values) < 2:
        return values
    index = values.index.as_unit("ns")  # whatever unit the file was read in
    jumps = np.flatnonzero(index.asi8[1:] > shifted(index[:-1], 1, freq))
    if len(jumps) == 0:
        return values
    mids = values.index[jumps] + (values.index[jumps + 1] - values.index[jumps]) / 2
    return pd.concat([values, pd.Series(np.nan, index=mids)]).sort_index()


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
