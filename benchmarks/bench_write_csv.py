"""Benchmark: writing forecasts.csv, `forecaster._io.write_csv` (Arrow's writer) against pandas'
`to_csv` of the same frame, measured in the same run.

The frame has the shape of ETTh1's test forecasts at horizon 96 under the LTSF protocol: 2,785
windows x 96 steps x 7 targets = 1.87 million rows, hourly (cutoff, timestamp) index, step,
target, the actuals and four forecasters. Interleaved pairs; prints ours/pandas time, settled
against the target <= 0.33 (at least 3 times faster).

    cd benchmarks && ../.venv/bin/python bench_write_csv.py [--windows 2785]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from common import settle_times, steady_process
from forecaster._io import write_csv

H, TARGETS = 96, ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
TARGET = 0.33


def frame(windows: int) -> pd.DataFrame:
    C = len(TARGETS)
    index = pd.date_range("2017-06-26", periods=windows + H, freq="h")
    rows = np.arange(windows)
    cutoff = index[np.repeat(rows, H * C)]  # (N,) -> (N*H*C,)
    stamp = index[np.repeat((rows[:, None] + np.arange(1, H + 1)).reshape(-1), C)]  # (N, H) -> (N*H*C,)
    rng = np.random.default_rng(0)
    cols = {"step": np.tile(np.repeat(np.arange(1, H + 1), C), windows), "target": np.tile(np.array(TARGETS), windows * H)}
    for name in ("actual", "segrnn", "naive", "seasonal_naive", "drift"):
        cols[name] = 10 + 5 * rng.standard_normal(len(cutoff))
    return pd.DataFrame(cols, index=pd.MultiIndex.from_arrays([cutoff.rename("cutoff"), stamp.rename("timestamp")]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=2_785)
    args = ap.parse_args()
    steady_process()
    f = frame(args.windows)
    with tempfile.TemporaryDirectory() as tmp:
        v, ref, ours = settle_times(lambda: f.to_csv(Path(tmp) / "pandas.csv"),
                                    lambda: write_csv(Path(tmp) / "ours.csv", f),
                                    "forecasts.csv: write_csv/pandas time", TARGET, min_pairs=3, max_pairs=8)
        size = (Path(tmp) / "ours.csv").stat().st_size / 1e6
    print(f"forecasts.csv ({len(f):,} rows, {size:.0f} MB): pandas to_csv {statistics.median(ref):.1f} s, "
          f"write_csv {statistics.median(ours):.1f} s")
    print(v.line())


if __name__ == "__main__":
    main()
