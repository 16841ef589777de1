"""The report of one model on one series: the series and its splits, held-out forecasts,
full-horizon fans, error per step, intervals and calibration, loss curves, and the metrics
table led by the comparison with naive. No torch.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from forecaster._io import atomic_write_text
from forecaster.data.frame import parse_step
from forecaster.evaluation.tables import significance_line, standardized_line, vs_naive_label
from forecaster.report.figures import (calibration_figure, fan_figure, forecast_figure, loss_figure,
                                       series_figure, step_figure)
from forecaster.report.page import esc, render_page


def metrics_table(metrics: dict) -> str:
    """HTML table: model first, then baselines, each with its MAE relative to naive."""
    naive = metrics["baselines"]["naive"]["MAE"]
    rows = [metrics["model"], *metrics["baselines"].values()]
    head = "".join(f"<th>{h}</th>" for h in ["forecaster", "MAE", "vs naive", "RMSE", "sMAPE %", "MASE"])
    body = []
    for i, m in enumerate(rows):
        cls = ' class="model"' if i == 0 else ""
        body.append(f"<tr{cls}><td>{esc(m['name'])}</td><td>{m['MAE']:.4g}</td><td>{vs_naive_label(m['MAE'], naive)}</td>"
                    f"<td>{m['RMSE']:.4g}</td><td>{m['sMAPE']:.3g}</td><td>{m['MASE']:.3f}</td></tr>")
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    test = f"<p>{esc(significance_line(metrics['significance']))}.</p>"
    test += f"<p>{esc(metrics['model']['name'])} {esc(standardized_line(metrics['standardized']))}.</p>"
    return table + test + intervals_table(metrics)


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
    scores = "".join(
        f"<tr><td>{method}</td><td>{s['crps']:.4g}</td>"
        + "".join(f"<td>{v:.4g}</td>" for v in s["pinball"].values()) + "</tr>"
        for method, s in (("split-conformal", iv["scores"]["conformal"]),
                          ("Gaussian head", iv["scores"].get("gaussian"))) if s)
    score_head = "".join(f"<th>{h}</th>" for h in ["probabilistic scores", "CRPS (from quantiles)",
                                                     "pinball 2.5%", "10%", "50%", "90%", "97.5%"])
    return (f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<table><thead><tr>{score_head}</tr></thead><tbody>{scores}</tbody></table>")


def figures(series: pd.DataFrame, spans: dict, forecasts: pd.DataFrame, metrics: dict,
            history: dict, unit: str = "value") -> dict[str, go.Figure]:
    """Every report figure by name, as plotly Figures."""
    model = metrics["model"]["name"]
    split = metrics["split"]
    freq = parse_step(split.get("freq"))
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


def write_report(path: str | Path, title: str, subtitle: str, series: pd.DataFrame, spans: dict,
                 forecasts: pd.DataFrame, metrics: dict, history: dict, unit: str = "value",
                 notes: list[str] | None = None) -> Path:
    """Write the self-contained report.html of one model (atomically) and return its path."""
    figs = figures(series, spans, forecasts, metrics, history, unit)
    page = render_page(title, subtitle, metrics["verdict"], metrics["mae_ratio_to_naive"] < 1,
                       metrics_table(metrics), figs, notes)
    return atomic_write_text(path, page)
