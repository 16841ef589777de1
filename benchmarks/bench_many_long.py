"""Benchmark 3 at scale: 10,000 synthetic sensor series x 1,000 rows x 8 float32 channels (the
10 M x 8 values of benchmark 3, 305 MB, cut into 10,000 series) through the product's own
many-series `fit` (a long-format parquet file with a series column: loading, per-series
validation, split and scaling, one epoch limited to 300 batches, per-series evaluation with
forecasts.csv written as it goes, metrics.json and the report), printing the peak after each
stage. Target: peak resident memory under twice the raw values array plus 500 MB, measured
with the default malloc:

    cd benchmarks && env -u MALLOC_MMAP_THRESHOLD_ -u MALLOC_TRIM_THRESHOLD_ BENCH_DEFAULT_MALLOC=1 \\
        ../.venv/bin/python bench_many_long.py [SERIES]

The file is written by a child process, so its making counts in nobody's peak.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from memory import memory_verdict, peak_mb

SERIES = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "--write" else 10_000
ROWS, CHANNELS, BATCHES = 1_000, 8, 300
SETTINGS = dict(target=["c0"], features=[f"c{i}" for i in range(1, CHANNELS)], lookback=48, horizon=6,
                batch_size=256, hidden_size=16, num_layers=1, max_epochs=1, patience=0, calendar=False)


def write_long(path: Path, series: int) -> None:
    """The long-format parquet file, one row group per 500 series: ts, site (dictionary), c0..c7."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    ts = np.datetime64("2024-01-01T00:00", "us") + np.arange(ROWS) * np.timedelta64(1, "h")
    names = pa.array([f"site{i:05d}" for i in range(series)])
    writer = None
    for a in range(0, series, 500):
        n = min(500, series - a)
        t = np.arange(ROWS, dtype=np.float32)[None, :, None]  # (1, ROWS, 1)
        phase = rng.uniform(0, 2 * np.pi, size=(n, 1, CHANNELS)).astype(np.float32)
        level = rng.uniform(0, 30, size=(n, 1, CHANNELS)).astype(np.float32)
        values = level + np.sin(2 * np.pi * t / 24 + phase)  # (n, ROWS, CHANNELS)
        values += 0.3 * rng.standard_normal(values.shape, dtype=np.float32)
        values = values.reshape(n * ROWS, CHANNELS)  # (n, ROWS, K) -> (n * ROWS, K)
        codes = pa.array(np.repeat(np.arange(a, a + n, dtype=np.int32), ROWS))
        columns = {"ts": pa.array(np.tile(ts, n)), "site": pa.DictionaryArray.from_arrays(codes, names),
                   **{f"c{k}": pa.array(values[:, k]) for k in range(CHANNELS)}}
        table = pa.table(columns)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def staged(module, name: str, label: str, timed: bool = True) -> None:
    """Print the peak after each call of `module.name` (a stage of fit), and its time if `timed`."""
    fn = getattr(module, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        took = f"{time.perf_counter() - start:.1f} s, " if timed else ""
        print(f"  {label}: {took}peak {peak_mb():,.0f} MB", flush=True)
        return out
    setattr(module, name, wrapper)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "many.parquet"
        subprocess.run([sys.executable, __file__, "--write", str(SERIES), str(path)], check=True)
        from common import steady_process
        import forecaster.runs.fit as fit_module
        from forecaster import FitConfig, fit

        steady_process()
        logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
        raw_mb = SERIES * ROWS * CHANNELS * 4 / 2**20  # the float32 values array
        target = 2 * raw_mb + 500
        print(f"many long: {SERIES:,} series x {ROWS:,} rows x {CHANNELS} float32 channels, raw values "
              f"{raw_mb:,.0f} MB; peak after imports {peak_mb():,.0f} MB", flush=True)
        staged(fit_module, "prepare_data", "load, validate, split and scale, windows")
        staged(fit_module, "train_network", f"1 epoch of {BATCHES} batches")
        staged(fit_module, "stream_panel", "evaluation of every series' test windows, forecasts.csv written "
               "series by series")
        staged(fit_module, "write_metrics_json", "metrics.json")
        staged(fit_module, "write_fit_report", "report.html")
        make = fit_module.trainer_for

        def limited(*args, **kwargs):
            trainer = make(*args, **kwargs)
            trainer.limit_train_batches, trainer.limit_val_batches = BATCHES, 50
            return trainer
        fit_module.trainer_for = limited
        start = time.perf_counter()
        result = fit(FitConfig(csv=str(path), series_col="site", out=f"{tmp}/run", **SETTINGS), progress=False)
        o = result.metrics["overall"]
        print(f"many long: fit {time.perf_counter() - start:.1f} s, {o['series']:,} series, "
              f"{result.metrics['training']['windows']['test']:,} test windows", flush=True)
    print(memory_verdict("many long", target))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--write":
        write_long(Path(sys.argv[3]), int(sys.argv[2]))
    else:
        main()
