"""Shared set-up for the benchmarks: threads, data, the reference network, paired timing."""

from __future__ import annotations

import ctypes
import os
import statistics
import time

import numpy as np
import torch

THREADS = 2


def steady_process() -> None:
    if os.environ.get("BENCH_DEFAULT_MALLOC"):
        torch.set_num_threads(THREADS)
        return
    """2 threads, and glibc malloc keeping large temporaries (see README "Performance")."""
    torch.set_num_threads(THREADS)
    try:  # M_MMAP_THRESHOLD = -3, M_TRIM_THRESHOLD = -1
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)
        libc.mallopt(-1, 1 << 30)
    except OSError:
        pass
    os.environ.setdefault("PYTHONHASHSEED", "0")


def sensor_arrays(rows: int, features: int = 8, seed: int = 0, chunk: int = 1 << 20) -> np.ndarray:
    """(rows, features) float32: daily-seasonal channels with noise, roughly standardized.

    Made in chunks of rows, so generating it costs no more memory than the array itself."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, size=(1, features)).astype(np.float32)
    x = np.empty((rows, features), dtype=np.float32)
    for a in range(0, rows, chunk):
        t = np.arange(a, min(a + chunk, rows), dtype=np.float32)[:, None]  # (n, 1)
        block = np.sin(2 * np.pi * t / 24 + phase)  # (n, F)
        block += 0.3 * rng.standard_normal(block.shape, dtype=np.float32)
        x[a:a + len(t)] = block / np.float32(np.sqrt(0.5 + 0.09))  # unit variance: sin^2 0.5, noise 0.09
    return x


def paired(fn_ref, fn_product, repeats: int = 3) -> tuple[list[float], list[float]]:
    """Interleaved pairs, the order alternating (reference then product, product then
    reference, ...) so that a drift in the machine's speed favours neither: seconds of each."""
    ref, prod = [], []
    for i in range(repeats):
        order = ((fn_ref, ref), (fn_product, prod))
        for fn, out in (order if i % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return ref, prod


def report(name: str, unit: str, ref_rate: list[float], prod_rate: list[float], target: float) -> float:
    r, p = statistics.median(ref_rate), statistics.median(prod_rate)
    ratios = [b / a for a, b in zip(ref_rate, prod_rate)]
    ratio = statistics.median(ratios)
    print(f"{name}: reference {r:,.0f} {unit}, product {p:,.0f} {unit} "
          f"(pairs: {', '.join(f'{x:.3f}' for x in ratios)})")
    verdict = "meets" if ratio >= target else "MISSES"
    print(f"{name}: ratio product/reference = {ratio:.3f} (target >= {target}: {verdict})")
    return ratio
