"""Shared set-up for the benchmarks: threads, data, paired timing and its verdicts."""

from __future__ import annotations

import ctypes
import os
import time

import numpy as np
import torch

from verdicts import Verdict, settle

THREADS = 2
# Where the timed training and prediction run: `make bench-gpu` sets BENCH_DEVICE=cuda and
# BENCH_PRECISION=bf16-mixed (Lightning's precision names; the reference loop then runs under
# the same bf16 autocast). The default is the 2-core CPU the targets are set for.
DEVICE = torch.device(os.environ.get("BENCH_DEVICE", "cpu"))
PRECISION = os.environ.get("BENCH_PRECISION", "32-true")
ACCELERATOR = "gpu" if DEVICE.type == "cuda" else "cpu"


def autocast():
    """The reference's autocast context for PRECISION (a no-op at 32-true)."""
    return torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=PRECISION == "bf16-mixed")


def sync() -> None:
    """Wait for the device's queued work, so that a host clock times what ran."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def describe() -> str:
    """One line naming where the benchmark ran."""
    where = torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    return f"device: {where}, precision {PRECISION}, torch {torch.__version__}"


def steady_process() -> None:
    """2 threads, and glibc malloc keeping large temporaries (see README "Performance"), unless
    BENCH_DEFAULT_MALLOC asks for the default malloc (the memory benchmark's target)."""
    torch.set_num_threads(THREADS)
    if os.environ.get("BENCH_DEFAULT_MALLOC"):
        return
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


def time_pair(fn_ref, fn_product, i: int) -> tuple[float, float]:
    """Pair number i: seconds of the reference and of the product, run back to back, the
    reference first in even pairs and second in odd ones, so that a drift in the machine's
    speed favours neither."""
    times = {}
    for fn in ((fn_ref, fn_product) if i % 2 == 0 else (fn_product, fn_ref)):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times[fn] = time.perf_counter() - start
    return times[fn_ref], times[fn_product]


def paired(fn_ref, fn_product, repeats: int = 3) -> tuple[list[float], list[float]]:
    """`repeats` interleaved pairs (see `time_pair`): seconds of each."""
    pairs = [time_pair(fn_ref, fn_product, i) for i in range(repeats)]
    return [r for r, _ in pairs], [p for _, p in pairs]


def settle_times(fn_ref, fn_product, name: str, target: float | None, higher_is_better: bool = False,
                 ratio=lambda ref_s, prod_s: prod_s / ref_s, **pairs) -> tuple[Verdict, list[float], list[float]]:
    """Interleaved pairs until the verdict on `ratio` is settled (see `verdicts.settle`):
    the verdict and the seconds of each side."""
    ref, prod = [], []

    def pair(i: int) -> float:
        r, p = time_pair(fn_ref, fn_product, i)
        ref.append(r), prod.append(p)
        return ratio(r, p)

    return settle(pair, name, target, higher_is_better, **pairs), ref, prod
