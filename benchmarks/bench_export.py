"""ONNX against torch: inference time of the exported network, for one batch and for 1,000 windows.

The network is the default LSTM at the default sizes (hidden 64 x 2 layers, lookback 64,
horizon 5) with fixed random weights, on 9 inputs (the embedded AAPL run's: 5 price columns and
4 calendar columns), exported by the product's own `export_network` (checked against torch
there). Both sides get 2 threads: torch under `inference_mode` through the output contract
(`forecaster.nets.build.distribution`), onnxruntime through the session `OnnxForecaster` uses.
Repetitions are interleaved, the order alternating (see `common.time_pair`); medians are printed,
with the median ratio of the pairs, onnx / torch time (below 1: ONNX is faster), and its 90%
interval (pairs are added until it is within +-2%, see verdicts.py).

    cd benchmarks && ../.venv/bin/python bench_export.py [--network lstm] [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import onnxruntime as ort
import torch

from common import THREADS, sensor_arrays, settle_times, steady_process
from forecaster.export.onnx import export_network
from forecaster.export.runtime import session_for
from forecaster.nets.build import build_network, distribution

LOOKBACK, HORIZON, HIDDEN, LAYERS, FEATURES = 64, 5, 64, 2, 9
BATCH, MANY = 64, 1_000
CALLS_PER_SAMPLE = {BATCH: 10, MANY: 1}  # a one-batch sample times 10 calls: ~10 ms each is noisy


def windows(n: int) -> np.ndarray:
    """(n, L, F) float32 windows of a seasonal, roughly standardized log."""
    rows = sensor_arrays(n + LOOKBACK, FEATURES)
    return np.lib.stride_tricks.sliding_window_view(rows, LOOKBACK, axis=0)[:n].transpose(0, 2, 1).copy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="lstm")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    steady_process()
    torch.manual_seed(0)
    net = build_network(args.network, FEATURES, HORIZON, 1, hidden_size=HIDDEN, num_layers=LAYERS).eval()
    data, _, diff = export_network(net, LOOKBACK, FEATURES, args.network)
    session = session_for(data, threads=THREADS)
    print(f"{args.network}: hidden {HIDDEN} x {LAYERS}, lookback {LOOKBACK}, horizon {HORIZON}, "
          f"{FEATURES} inputs; torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"onnxruntime {ort.__version__} ({THREADS} threads); export check: max difference {diff:.1e}")
    for n in (BATCH, MANY):
        x = windows(n)  # (n, L, F)
        xt = torch.from_numpy(x)

        def run_torch() -> None:
            with torch.inference_mode():
                for _ in range(CALLS_PER_SAMPLE[n]):
                    distribution(net, xt)  # (n, L, F) -> (n, H, C)

        def run_onnx() -> None:
            for _ in range(CALLS_PER_SAMPLE[n]):
                session.run(None, {"x": x})  # (n, L, F) -> (n, H, C)

        with torch.inference_mode():
            gap = np.abs(session.run(None, {"x": x})[0] - distribution(net, xt)[0].numpy()).max()
        run_torch(), run_onnx()  # warm-up
        v, t, o = settle_times(run_torch, run_onnx, f"{n:>5} windows: onnx/torch time", None,
                               min_pairs=args.repeats, max_pairs=3 * args.repeats)
        t_ms = statistics.median(t) / CALLS_PER_SAMPLE[n] * 1e3
        o_ms = statistics.median(o) / CALLS_PER_SAMPLE[n] * 1e3
        print(f"{n:>5} windows: torch {t_ms:8.2f} ms ({n / t_ms * 1e3:>9,.0f} windows/s), onnx {o_ms:8.2f} ms "
              f"({n / o_ms * 1e3:>9,.0f} windows/s); max |onnx - torch| {gap:.1e}")
        print(v.line())

if __name__ == "__main__":
    main()
