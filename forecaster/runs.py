"""Past runs: a table of every run folder under a root, and an index.html linking their reports.

The index of the default `runs/` folder is refreshed after every fit, compare and backtest;
`forecaster runs --dir DIR` lists (and indexes) any other folder.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from forecaster._io import atomic_write_text
from forecaster.report import CSS, esc


def _summary(run: Path, metrics: dict) -> dict:
    if "folds" in metrics:  # backtest
        kind, model = "backtest", metrics["model"]
        agg = metrics["aggregate"]
        mae, naive = agg["model"]["MAE"], agg["baselines"]["naive"]["MAE"]
        source = metrics["data"]["source"]
    elif "overall" in metrics:  # one model on many series: MAE columns hold the mean MASE
        kind, o = "panel", metrics["overall"]
        model = f"{o['model']} ({o['series']} series, mean MASE)"
        mae, naive = o["mean_MASE"][o["model"]], o["mean_MASE"]["naive"]
        source = metrics["data"]["source"]
    elif "models" in metrics:  # compare
        kind, best = "compare", metrics.get("best") or min(metrics["models"], key=lambda n: metrics["models"][n]["MAE"])
        model = f"{best} (best of {len(metrics['models'])})"
        mae, naive = metrics["models"][best]["MAE"], metrics["baselines"]["naive"]["MAE"]
        source = metrics["data"]["source"]
    else:
        kind, model = "fit", metrics["model"]["name"]
        mae, naive = metrics["model"]["MAE"], metrics["baselines"]["naive"]["MAE"]
        source = metrics["data"]["source"]
    stamp = (run / "metrics.json").stat().st_mtime
    return {"run": run.name, "kind": kind, "data": source, "model": model,
            "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)), "MAE": mae,
            "naive MAE": naive, "vs naive %": 100 * (mae / naive - 1),
            "report": str(run / "report.html")}


def list_runs(root: str | Path = "runs") -> pd.DataFrame:
    """One row per finished run under `root`, newest first. Unreadable folders are skipped."""
    rows = []
    for run in sorted(Path(root).glob("*/metrics.json")):
        try:
            rows.append(_summary(run.parent, json.loads(run.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError):
            continue  # an unfinished or foreign folder is not a run
    columns = ["run", "kind", "data", "model", "date", "MAE", "naive MAE", "vs naive %", "report"]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values("date", ascending=False, kind="stable").reset_index(drop=True)


def write_index(root: str | Path = "runs") -> Path:
    """index.html in `root`, linking every run's report."""
    root = Path(root)
    table = list_runs(root)
    body = "".join(
        f"<tr><td><a href=\"{esc(Path(r['report']).relative_to(root).as_posix())}\">{esc(r['run'])}</a></td>"
        f"<td>{esc(r['kind'])}</td><td>{esc(r['data'])}</td><td>{esc(r['model'])}</td><td>{esc(r['date'])}</td>"
        f"<td>{r['MAE']:.4g}</td><td>{r['naive MAE']:.4g}</td><td>{r['vs naive %']:+.1f}%</td></tr>"
        for r in table.to_dict("records"))
    head = "".join(f"<th>{h}</th>" for h in ["run", "kind", "data", "model", "date", "MAE",
                                               "naive MAE", "vs naive"])
    page = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>forecaster runs</title>"
            f"<style>{CSS}</style></head><body><h1>Runs in {esc(root)}</h1>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>")
    return atomic_write_text(root / "index.html", page)


def refresh_index(run_dir: Path) -> None:
    """Refresh the index of a run's parent folder if it is the default `runs/` or has one."""
    parent = run_dir.parent
    if parent.name == "runs" or (parent / "index.html").is_file():
        write_index(parent)
