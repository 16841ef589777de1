"""The task every runner of the peer comparison solves, and the one JSON line each prints.

Benchmark 6's small task (`benchmarks/bench_small_task.py`): the daily log returns of the
embedded AAPL closes, then IBM's, end to end (6,538 values), standardized with the mean and
standard deviation of the training part; univariate; lookback 64, horizon 16. Windows by start
row: 3,442 training windows (starts 0..3,441), 128 validation windows (starts from 3,522, after
training's last target), then every test window after validation's last target (starts from
3,730: 2,729 windows). Scores are in standardized units: the test MAE over all windows and steps,
divided by the naive forecast's (the window's last value carried forward) on the same windows.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # benchmarks/common.py

LOOKBACK, HORIZON, HIDDEN, LAYERS, BATCH, EPOCHS, LR = 64, 16, 64, 2, 128, 5, 1e-3
TRAIN_WINDOWS, VAL_WINDOWS, PATIENCE = 3_442, 128, 5
SPAN = LOOKBACK + HORIZON
FIT_ROWS = TRAIN_WINDOWS + SPAN - 1  # rows 0..3,520: the training windows, and the scaler's statistics
VAL_START = TRAIN_WINDOWS + SPAN  # as bench_small_task.py
VAL_ROWS = VAL_WINDOWS + SPAN - 1  # rows VAL_START.. hold exactly the 128 validation windows
TEST_START = VAL_START + VAL_WINDOWS + SPAN  # the same rule again: after validation's last target


def series() -> np.ndarray:
    """(6,538,) float32: the standardized log returns (AAPL, then IBM)."""
    from forecaster.data.sources import load_dataset
    closes = [load_dataset(name)["Close"].to_numpy() for name in ("aapl", "ibm")]
    returns = np.concatenate([np.diff(np.log(c)) for c in closes])
    fit = returns[:FIT_ROWS]
    return ((returns - fit.mean()) / fit.std()).astype(np.float32)


def starts(x: np.ndarray) -> dict[str, np.ndarray]:
    return {"train": np.arange(TRAIN_WINDOWS), "val": np.arange(VAL_START, VAL_START + VAL_WINDOWS),
            "test": np.arange(TEST_START, len(x) - SPAN + 1)}


def test_windows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (N, LOOKBACK) and targets (N, HORIZON) of every test window."""
    w = np.lib.stride_tricks.sliding_window_view(x, SPAN)[starts(x)["test"]]  # (N, SPAN)
    return w[:, :LOOKBACK], w[:, LOOKBACK:]


def window_module(x: np.ndarray):
    """forecaster's WindowDataModule over the three splits (used by the floor and forecaster)."""
    from forecaster.data.windows import WindowDataModule
    return WindowDataModule(x[:, None], x[:, None], starts(x), LOOKBACK, HORIZON, batch_size=BATCH, seed=0)


def emit(framework: str, config: str, import_s: float, train_s: float, predict_s: float,
         forecasts: np.ndarray, x: np.ndarray, **extra) -> None:
    """Print the run's one JSON line: seconds, peak RSS and test MAE / naive MAE."""
    inputs, targets = test_windows(x)
    forecasts = np.asarray(forecasts, dtype=np.float64).reshape(targets.shape)
    mae = float(np.abs(forecasts - targets).mean())
    naive = float(np.abs(inputs[:, -1:] - targets).mean())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"framework": framework, "config": config, "import_s": import_s, "train_s": train_s,
                      "predict_s": predict_s, "peak_mb": peak_mb, "mae": mae, "naive_mae": naive,
                      "mae_ratio": mae / naive, "test_windows": len(targets), **extra}), flush=True)


def clock() -> float:
    return time.perf_counter()


def cpu() -> float:
    """CPU seconds of the process (all threads): less swayed than wall time by other load."""
    return time.process_time()
