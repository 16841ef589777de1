"""Benchmark 6: the fixed cost per epoch, on the small task of the peer comparison (issue #18).

The task: a daily price series (real data: the log returns of the embedded AAPL closes, then
IBM's, end to end, standardized on the training part; univariate), 3,442 training windows and
128 validation windows, lookback 64, horizon 16, LSTM hidden 64 x 2, batch 128, 5 epochs, Adam,
clipping at 1, 2 threads. At about 0.7 s of real work per epoch, what a framework adds per
epoch (validation start-up, checkpoints, callbacks) shows here where the 12,000-row throughput
benchmark hides it.

The reference is `bench_throughput.reference_train`: a plain PyTorch loop over the same
network and windows with one validation pass per epoch. The product is what `forecaster fit`
runs to train: WindowDataModule + ForecastModule + `make_trainer` (fit's defaults: early
stopping with patience 5, best and last checkpoints) + `train`, writing into a temporary folder.
Interleaved pairs, added until the verdict settles (see verdicts.py); prints product time /
reference time, with the 90% interval of its median, against the target <= 1.05.

The product's Adam is torch's fused kernel (ForecastModule.configure_optimizers), which the plain
loop, with torch's default Adam, lacks. A second comparison gives the reference that kernel too,
so its ratio is the framework's own cost alone (Lightning's loop and hooks, checkpoints,
histories), printed beside the verdict; `--skip-fused-reference` leaves it out.

    cd benchmarks && ../.venv/bin/python bench_small_task.py [--pairs 6] [--max-pairs 20] [--profile] [--skip-fused-reference]

`--profile` prints a cProfile of one product run and one reference run instead.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import statistics

import numpy as np
import torch

from bench_throughput import product_train, reference_train
from common import describe, settle_times, steady_process
from forecaster.data.sources import load_dataset
from forecaster.data.windows import WindowDataModule
from forecaster.nets.build import build_network

LOOKBACK, HORIZON, HIDDEN, LAYERS, BATCH, EPOCHS = 64, 16, 64, 2, 128, 5
TRAIN_WINDOWS, VAL_WINDOWS, PATIENCE = 3_442, 128, 5
TARGET = 1.05


def setup() -> WindowDataModule:
    """3,442 training and 128 validation windows of daily log returns (AAPL, then IBM)."""
    closes = [load_dataset(name)["Close"].to_numpy() for name in ("aapl", "ibm")]
    returns = np.concatenate([np.diff(np.log(c)) for c in closes])  # (6,538,)
    span = LOOKBACK + HORIZON
    rows = TRAIN_WINDOWS + span + VAL_WINDOWS + span - 1  # validation starts after training's last target
    x = returns[:rows]
    fit_rows = TRAIN_WINDOWS + span - 1
    x = ((x - x[:fit_rows].mean()) / x[:fit_rows].std()).astype(np.float32)[:, None]  # (T, 1)
    starts = {"train": np.arange(TRAIN_WINDOWS),
              "val": np.arange(TRAIN_WINDOWS + span, TRAIN_WINDOWS + span + VAL_WINDOWS)}
    return WindowDataModule(x, x, starts, LOOKBACK, HORIZON, batch_size=BATCH, seed=0)


def network():
    torch.manual_seed(0)
    return build_network("lstm", 1, HORIZON, 1, hidden_size=HIDDEN, num_layers=LAYERS)


def reference(data: WindowDataModule, fused_adam: bool = False) -> None:
    reference_train(data, network, EPOCHS, fused_adam=fused_adam)


def product(data: WindowDataModule) -> None:
    product_train(data, network, EPOCHS, patience=PATIENCE)


def profile(data: WindowDataModule) -> None:
    reference(data), product(data)  # warm
    for name, fn in (("product", product), ("reference", reference)):
        prof = cProfile.Profile()
        prof.enable()
        fn(data)
        prof.disable()
        print(f"===== {name}")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(45)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=6, help="pairs before the interval is checked")
    parser.add_argument("--max-pairs", type=int, default=20)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--skip-fused-reference", action="store_true",
                        help="leave out the comparison with a reference that also has the fused Adam")
    args = parser.parse_args()
    steady_process()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    print(describe())
    data = setup()
    assert len(data.dataset("train")) == TRAIN_WINDOWS and len(data.dataset("val")) == VAL_WINDOWS
    if args.profile:
        profile(data)
        return
    reference(data), product(data)  # warm both paths (imports, allocator) before timing
    v, ref_s, prod_s = settle_times(lambda: reference(data), lambda: product(data), "small task: product/reference time",
                                    TARGET, min_pairs=args.pairs, max_pairs=args.max_pairs)
    r, p = statistics.median(ref_s), statistics.median(prod_s)
    print(f"small task ({TRAIN_WINDOWS:,} training windows, {EPOCHS} epochs): reference {r:.2f} s, "
          f"product {p:.2f} s; fixed cost {(p - r) / EPOCHS:.3f} s per epoch "
          f"(pairs: {', '.join(f'{x:.3f}' for x in v.ratios)})")
    print(v.line())
    if args.skip_fused_reference:
        return
    reference(data, fused_adam=True)
    f, ref_s, prod_s = settle_times(lambda: reference(data, fused_adam=True), lambda: product(data),
                                    "small task, framework cost alone: product/reference with fused Adam",
                                    TARGET, min_pairs=args.pairs, max_pairs=args.max_pairs)
    r, p = statistics.median(ref_s), statistics.median(prod_s)
    print(f"the reference with the product's fused Adam: reference {r:.2f} s, product {p:.2f} s; "
          f"fixed cost {(p - r) / EPOCHS:.3f} s per epoch")
    print(f.line())

if __name__ == "__main__":
    main()
