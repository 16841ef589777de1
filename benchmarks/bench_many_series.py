"""Benchmark 5: 1,000 synthetic sensor series, one model, through the product's own `fit`
(long-format CSV with a series column: loading, per-series validation, split and scaling,
one epoch, per-series evaluation, report), against the same rows as ONE series in the same
run. The ratio (one series' time / 1,000 series' time) shows what handling many series costs.
Interleaved pairs (three, up to eight until the 90% interval of the median ratio is within +-4%).
"""

from __future__ import annotations

import itertools
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from common import settle_times, steady_process
from forecaster import FitConfig, fit

SERIES = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000
ROWS = 500  # per series: 500,000 rows in all
SETTINGS = dict(target=["temp"], features=["humid"], lookback=24, horizon=6, batch_size=256,
                hidden_size=16, num_layers=1, max_epochs=1, patience=0, calendar=False)


def write_logs(folder: Path) -> tuple[Path, Path]:
    """The long-format file of all series, and the same values as one series."""
    rng = np.random.default_rng(0)
    t = np.arange(ROWS)
    frames = []
    for i in range(SERIES):
        level, amp, phase = rng.uniform(0, 30), rng.uniform(1, 8), rng.uniform(0, 2 * np.pi)
        frames.append(pd.DataFrame({
            "ts": pd.date_range("2024-01-01", periods=ROWS, freq="h"),
            "site": f"site{i:04d}",
            "temp": level + amp * np.sin(2 * np.pi * t / 24 + phase) + rng.normal(0, 0.5, ROWS),
            "humid": 60 + 10 * np.cos(2 * np.pi * t / 24 + phase) + rng.normal(0, 2, ROWS)}))
    long = pd.concat(frames, ignore_index=True)
    many, one = folder / "many.csv", folder / "one.csv"
    long.to_csv(many, index=False)
    single = long.drop(columns="site").assign(ts=pd.date_range("2024-01-01", periods=len(long), freq="h"))
    single.to_csv(one, index=False)
    return many, one


def main() -> None:
    steady_process()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        many, one = write_logs(Path(tmp))
        results = []

        runs = itertools.count()  # a fresh output folder for every run

        def one_series() -> None:
            fit(FitConfig(csv=str(one), out=f"{tmp}/one{next(runs)}", **SETTINGS), progress=False)

        def many_series() -> None:
            results.append(fit(FitConfig(csv=str(many), series_col="site", out=f"{tmp}/many{next(runs)}",
                                         **SETTINGS), progress=False))

        v, ref, prod = settle_times(one_series, many_series, "many series: one-series time / many-series time",
                                    0.8, higher_is_better=True, ratio=lambda r, p: r / p,
                                    min_pairs=3, max_pairs=8, width=0.04)
        result = results[-1]
        o = result.metrics["overall"]
        windows = result.metrics["training"]["windows"]
        print(f"many series: {o['series']:,} series x {ROWS} rows, {windows['train']:,} training windows, "
              f"{windows['test']:,} test windows; beats naive on {o['beats_naive']} "
              f"(mean MASE model {o['mean_MASE'][o['model']]:.3f}, "
              f"naive {o['mean_MASE']['naive']:.3f})")
        print(f"many series: one series of the same rows {', '.join(f'{x:.1f}' for x in ref)} s, "
              f"{o['series']:,} series {', '.join(f'{x:.1f}' for x in prod)} s")
        print(v.line())

if __name__ == "__main__":
    main()
