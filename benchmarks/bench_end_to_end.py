"""Benchmark 4: `forecaster fit` with defaults on the embedded stock, from process start to the
written report, against the 60 s budget on 2 cores (three runs, median)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET = 60.0


def main() -> None:
    exe = Path(sys.executable).with_name("forecaster")
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(3):
            out = Path(tmp) / f"run{i}"
            start = time.perf_counter()
            subprocess.run([str(exe), "fit", "--out", str(out)], check=True, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
            assert (out / "report.html").is_file()
    t = statistics.median(times)
    print(f"end to end: forecaster fit (defaults, aapl) {', '.join(f'{x:.1f}' for x in times)} s")
    print(f"end to end: median {t:.1f} s, ratio budget/time = {BUDGET / t:.2f} "
          f"(target: under {BUDGET:.0f} s: {'meets' if t < BUDGET else 'MISSES'})")


if __name__ == "__main__":
    main()
