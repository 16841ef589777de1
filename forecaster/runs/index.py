"""Past runs: a table of every run folder under a root, and an index.html linking their reports.

The index of the default `runs/` folder is refreshed after every fit, compare and backtest;
`forecaster runs --dir DIR` lists (and indexes) any other folder. Each run's headline comes
from `headline`, by the `kind` its metrics.json declares.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from forecaster._io import atomic_write_text
from forecaster.evaluation.tables import vs_naive
from forecaster.report.index import index_page
from forecaster.runs.results import METRICS_SCHEMA

COLUMNS = ["run", "kind", "data", "model", "date", "MAE", "naive MAE", "vs naive %", "report"]


def headline(metrics: dict) -> tuple[str, float, float]:
    """(model label, its MAE, naive's MAE) of a run, by its kind. Many-series runs give the
    mean MASE over series instead of an MAE (series have different units)."""
    kind = metrics["kind"]
    if kind == "fit":
        return metrics["model"]["name"], metrics["model"]["MAE"], metrics["baselines"]["naive"]["MAE"]
    if kind == "panel":
        o = metrics["overall"]
        return (f"{o['model']} ({o['series']} series, mean MASE)", o["mean_MASE"][o["model"]],
                o["mean_MASE"]["naive"])
    if kind == "compare":
        best = metrics["best"]
        return (f"{best} (best of {len(metrics['models'])})", metrics["models"][best]["MAE"],
                metrics["baselines"]["naive"]["MAE"])
    if kind == "backtest":
        agg = metrics["aggregate"]
        return metrics["model"], agg["model"]["MAE"], agg["baselines"]["naive"]["MAE"]
    raise ValueError(f"unknown run kind {kind!r}")


def list_runs(root: str | Path = "runs") -> pd.DataFrame:
    """One row per finished run under `root`, newest first. Folders without a readable
    metrics.json of this schema (unfinished, foreign, or from an older forecaster) are left out."""
    rows = []
    for path in sorted(Path(root).glob("*/metrics.json")):
        try:
            metrics = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # unfinished or foreign: not a run
        if not isinstance(metrics, dict) or metrics.get("schema") != METRICS_SCHEMA:
            continue  # an older forecaster's run
        model, mae, naive = headline(metrics)
        stamp = path.stat().st_mtime
        rows.append({"run": path.parent.name, "kind": metrics["kind"], "data": metrics["data"]["source"],
                     "model": model, "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)),
                     "MAE": mae, "naive MAE": naive, "vs naive %": vs_naive(mae, naive),
                     "report": str(path.parent / "report.html")})
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values("date", ascending=False, kind="stable").reset_index(drop=True)


def write_index(root: str | Path = "runs") -> Path:
    """index.html in `root`, linking every run's report."""
    root = Path(root)
    return atomic_write_text(root / "index.html", index_page(root, list_runs(root)))


def refresh_index(run_dir: Path) -> None:
    """Refresh the index of a run's parent folder if it is the default `runs/` or has one."""
    parent = run_dir.parent
    if parent.name == "runs" or (parent / "index.html").is_file():
        write_index(parent)
