"""index.html of a runs folder: one row per run, linking its report. No torch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecaster.report.page import CSS, esc


def index_page(root: Path, table: pd.DataFrame) -> str:
    """The page for `forecaster.runs.index.list_runs`'s table."""
    body = "".join(
        f"<tr><td><a href=\"{esc(Path(r['report']).relative_to(root).as_posix())}\">{esc(r['run'])}</a></td>"
        f"<td>{esc(r['kind'])}</td><td>{esc(r['data'])}</td><td>{esc(r['model'])}</td><td>{esc(r['date'])}</td>"
        f"<td>{r['MAE']:.4g}</td><td>{r['naive MAE']:.4g}</td><td>{r['vs naive %']:+.1f}%</td></tr>"
        for r in table.to_dict("records"))
    head = "".join(f"<th>{h}</th>" for h in ["run", "kind", "data", "model", "date", "MAE",
                                               "naive MAE", "vs naive"])
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>forecaster runs</title>"
            f"<style>{CSS}</style></head><body><h1>Runs in {esc(root)}</h1>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>")
