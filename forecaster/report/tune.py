"""tune.html of `forecaster tune`: the best trial, the search space, Optuna's own figures of the
study (optimization history, parameter importances, parallel coordinates) and every trial.
No torch, and no Optuna either: the figures and rows come from `forecaster.runs.study`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import yaml
from plotly.offline import get_plotlyjs

from forecaster._io import atomic_write_text
from forecaster.report.page import CSS, esc

TARGET = "best validation loss"  # a trial's value, as the figures and the table name it
# The trials table is wide (a column per parameter): tighter cells, the reasons left-aligned.
TRIALS_CSS = ".trials th,.trials td{padding:4px 8px;font-size:.9em} .trials td.notes{text-align:left;min-width:22em}"


@dataclass
class TrialRow:
    """One trial of the study, as the table shows it."""

    number: int
    state: str  # complete, pruned, failed, running
    value: float | None  # best validation loss (complete trials)
    epochs: int | None
    params: dict[str, Any]
    seconds: float | None
    note: str = ""  # why it was pruned or failed


@dataclass
class TuneSummary:
    title: str
    subtitle: str
    best: str  # one sentence on the best trial
    best_number: int | None
    space: dict[str, Any]  # the search space as its YAML mapping
    links: dict[str, str] = field(default_factory=dict)  # label -> path relative to the page
    trials: list[TrialRow] = field(default_factory=list)


def cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return esc("" if value is None else value)


def trials_table(rows: list[TrialRow], best: int | None) -> str:
    """Every trial: state, value, epochs, parameters, duration and why it stopped."""
    names = list(dict.fromkeys(n for r in rows for n in r.params))
    head = "".join(f"<th>{esc(h)}</th>" for h in ["trial", "state", TARGET, "epochs", *names, "seconds", "note"])
    body = "".join(row_html(r, names, r.number == best) for r in rows)
    return (f'<div style="overflow-x:auto"><table class="trials"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def row_html(r: TrialRow, names: list[str], best: bool) -> str:
    cells = [r.number, r.state, r.value, r.epochs, *(r.params.get(n) for n in names), r.seconds]
    cls = ' class="model"' if best else ""
    return (f"<tr{cls}>" + "".join(f"<td>{cell(c)}</td>" for c in cells)
            + f'<td class="notes">{esc(r.note)}</td></tr>')


def tune_page(summary: TuneSummary, figs: dict[str, go.Figure], notes: list[str]) -> str:
    """The page: `figs` (Optuna's figures, by name) and `notes` (why a figure is left out)."""
    for fig in figs.values():
        fig.update_layout(template="plotly_white", height=460)
    parts = "".join(f'<div class="figure" id="fig-{esc(n)}">'
                    + fig.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True})
                    + "</div>" for n, fig in figs.items())
    links = " · ".join(f'<a href="{esc(href)}">{esc(label)}</a>' for label, href in summary.links.items())
    note_html = "".join(f'<p class="notes">{esc(n)}</p>' for n in notes)
    space = yaml.safe_dump(summary.space, sort_keys=False, default_flow_style=None)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(summary.title)}</title>
<style>{CSS}{TRIALS_CSS}</style><script type="text/javascript">{get_plotlyjs()}</script></head>
<body><h1>{esc(summary.title)}</h1><p class="sub">{esc(summary.subtitle)}</p>
<div class="verdict {'win' if summary.best_number is not None else 'loss'}">{esc(summary.best)}</div>
<p>{links}</p>
<p class="notes">A trial's value is its best validation loss (scaled units); the pruner stops a
trial whose validation loss trails the median of earlier trials at the same epoch. No trial
sees the test split: only the fit of the best config is evaluated on it, in its own report.</p>
<h2>Search space</h2><pre>{esc(space)}</pre>
<h2>The study</h2>{parts}{note_html}
<h2>Trials</h2>{trials_table(summary.trials, summary.best_number)}</body></html>"""


def write_tune_report(path: str | Path, summary: TuneSummary, figs: dict[str, go.Figure],
                      notes: list[str]) -> Path:
    return atomic_write_text(path, tune_page(summary, figs, notes))
